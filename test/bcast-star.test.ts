import { afterEach, describe, expect, it } from 'vitest';
import { DirectChannel } from '../src/channels/direct/direct-channel.js';
import { STAR_MAX_BYTES, STAR_MAX_RANKS } from '../src/collectives/bcast.js';
import { NUDGE_KIND } from '../src/collectives/nudge.js';
import { Op } from '../src/index.js';
import { range, settleWorld, withWorld } from './helpers/world.js';

/** Counts, per rank, the messages the direct channel sends (every rank runs in this process). */
function countSends(): { sent: Map<number, number>; restore(): void } {
  const send = DirectChannel.prototype.send;
  const sent = new Map<number, number>();
  DirectChannel.prototype.send = function (this: DirectChannel, ...args: Parameters<typeof send>) {
    // Nudges (a receive still waiting at a watch tick, on a loaded machine) are not the algorithm's messages.
    if (args[1].kind !== NUDGE_KIND) sent.set(this.rank, (sent.get(this.rank) ?? 0) + 1);
    return send.apply(this, args);
  };
  return { sent, restore: () => void (DirectChannel.prototype.send = send) };
}

// A Uint8Array of n bytes encodes to n bytes: the star takes it up to STAR_MAX_BYTES.
const payload = (n: number, root: number) => Uint8Array.from(range(n), (i) => (i * 7 + root) & 255);

describe('bcast on few ranks - star for small payloads', () => {
  let spy: ReturnType<typeof countSends> | undefined;
  afterEach(() => spy?.restore());

  it(`on ${STAR_MAX_RANKS} ranks a small payload goes from the root to everyone (the root sends all), a larger one down the binomial tree`, async () => {
    spy = countSends();
    const { sent } = spy;
    for (const root of range(STAR_MAX_RANKS)) {
      const counts = await withWorld(STAR_MAX_RANKS, async (c) => {
        // Connect every pair first: what is counted below is the steady state.
        for (let i = 0; i < 2; i++) await c.allreduce(new Float64Array(8), Op.SUM);
        const t0 = sent.get(c.rank) ?? 0;
        const small = await c.bcast(c.rank === root ? payload(STAR_MAX_BYTES, root) : undefined, root);
        const t1 = sent.get(c.rank) ?? 0;
        const large = await c.bcast(c.rank === root ? payload(STAR_MAX_BYTES + 1, root) : undefined, root);
        const t2 = sent.get(c.rank) ?? 0;
        expect(Array.from(small as Uint8Array)).toEqual(Array.from(payload(STAR_MAX_BYTES, root)));
        expect(Array.from(large as Uint8Array)).toEqual(Array.from(payload(STAR_MAX_BYTES + 1, root)));
        return [t1 - t0, t2 - t1];
        // The algorithm's messages only: the verdict step (verdict.ts) adds one per tree edge, counted in its own tests.
      }, { verdicts: false });
      // Star: the root sends 3, nobody else. Binomial on 4: the root sends to rel 1 and 2 and tells rel 3
      // (an empty message) to wait for rel 2, which forwards to it.
      const rel2 = (root + 2) % 4;
      expect(counts.map((c) => c[0]), `small, root ${root}`).toEqual(range(4).map((r) => (r === root ? 3 : 0)));
      expect(counts.map((c) => c[1]), `large, root ${root}`).toEqual(range(4).map((r) => (r === root ? 3 : r === rel2 ? 1 : 0)));
    }
  });

  it('every rank gets the root\'s value, from every root and for sizes around the threshold, back to back', async () => {
    for (const size of [1, 2, 3, 4, 5]) {
      const out = await withWorld(size, async (c) => {
        const got: unknown[] = [];
        // Back to back and alternating star and tree, so a star message cannot be taken by the next call's tree or back.
        for (const n of [0, 1, STAR_MAX_BYTES, STAR_MAX_BYTES + 1, 8, 64 * 1024, 3])
          for (const root of range(size)) got.push(Array.from((await c.bcast(c.rank === root ? payload(n, root) : undefined, root)) as Uint8Array).length);
        got.push(await c.bcast(c.rank === size - 1 ? { text: 'js value', n: size } : undefined, size - 1));
        return got;
      });
      const want = [0, 1, STAR_MAX_BYTES, STAR_MAX_BYTES + 1, 8, 64 * 1024, 3].flatMap((n) => range(size).map(() => n));
      for (const o of out) expect(o).toEqual([...want, { text: 'js value', n: size }]);
    }
  });

  it('a root whose value cannot be sent fails every rank at once (small: the star carries the error)', async () => {
    const t0 = Date.now();
    const out = await settleWorld(4, (c) => c.bcast(c.rank === 1 ? { f: () => 1 } : undefined, 1, { timeoutMs: 20_000 }));
    for (const r of out) expect(r.status).toBe('rejected');
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});
