import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PeerLostError } from '../../src/errors.js';
import { ANY_SOURCE, ANY_TAG } from '../../src/channels/channel.js';
import { createRegion } from '../../src/channels/shm/index.js';
import { LEND_FROM, OFFER_FROM, lentCounts } from '../../src/channels/shm/in-place.js';
import { KiB, MiB, env, firstBad, nodeMemory, pattern, world } from './shm-world.js';

// Lent payloads (src/channels/shm/in-place.ts): a large payload that lies in
// the node memory (sharedArray()) is copied by the receiver straight out of
// the sender's array, once; the send completes when it has.

const PAGE = 65536;

const counts = () => ({ ...lentCounts });
const since = (before: { direct: number; pooled: number }) => ({ direct: lentCounts.direct - before.direct, pooled: lentCounts.pooled - before.pooled });

describe('shm - lent payloads, copied once', () => {
  it('a posted receive, shared or plain, gets the payload straight from the sender\'s array: no staging area, one copy each', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], region, close } = await world(2, undefined, memory, true);
    const n = 4 * MiB + 3;
    const src = array(n, 1);
    const intos = [array(n), new Uint8Array(n)];
    const pages = memory.buffer.byteLength;
    const before = counts();
    for (const [i, into] of intos.entries()) {
      const got = b!.recv({ source: 0, ctx: 0, tag: i, into });
      await a!.send(1, env(i), src);
      const m = await got;
      expect([i, m.data.buffer === into.buffer, firstBad(m.data, n, 1)]).toEqual([i, true, -1]);
    }
    expect(since(before)).toEqual({ direct: 2, pooled: 0 });
    // Neither staging area was used: no node pages taken, the pairs' own buffers empty.
    expect(memory.buffer.byteLength).toBe(pages);
    expect(region.bulk!.map((s) => s?.byteLength ?? 0)).toEqual([0, 0, 0, 0]);
    // Below LEND_FROM, and plain arrays of any size, go as before.
    await Promise.all([a!.send(1, env(5), array(LEND_FROM - 1, 2)), a!.send(1, env(6), pattern(MiB, 3)), b!.recv({ source: 0, ctx: 0, tag: 5 }), b!.recv({ source: 0, ctx: 0, tag: 6 })]);
    expect(since(before)).toEqual({ direct: 2, pooled: 0 });
    await close();
  });

  it('an early lent message waits in the sender\'s array for a receive posted before the thread goes idle; a probe sees it', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], close } = await world(2, undefined, memory, true);
    const before = counts();
    const n = MiB + 1;
    let done = false;
    const sent = a!.send(1, env(3), array(n, 4)).then(() => (done = true));
    expect(b!.iprobe({ source: 0, ctx: 0, tag: 3 })?.length).toBe(n);
    await Promise.resolve();
    expect(done).toBe(false);
    const m = await b!.recv({ source: ANY_SOURCE, ctx: 0, tag: ANY_TAG, into: array(2 * MiB) });
    await sent;
    expect([m.tag, firstBad(m.data, n, 4)]).toEqual([3, -1]);
    expect(since(before)).toEqual({ direct: 1, pooled: 0 });
    await close();
  });

  it('a send awaited before its receive is posted completes (the idle receiver copies it to a pooled buffer); the sender\'s changes after that are not seen', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], close } = await world(2, undefined, memory, true);
    const before = counts();
    const src = array(2 * MiB, 7);
    await a!.send(1, env(1), src);
    src.fill(0);
    const posted = b!.recv({ source: 0, ctx: 0, tag: 2, into: array(2 * MiB) });
    await a!.send(1, env(2), src.fill(9, 0, 4));
    src.fill(1);
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 1 })).data, 2 * MiB, 7)).toBe(-1);
    const m = await posted;
    expect([...m.data.subarray(0, 6)]).toEqual([9, 9, 9, 9, 0, 0]);
    expect(since(before)).toEqual({ direct: 1, pooled: 1 });
    await close();
  });

  it('keep their order with small, staged and lent messages, with wildcards and by tag; more in flight than ack bits', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b, c], close } = await world(3, undefined, memory, true);
    const kinds = (i: number) => [array(300 * KiB + i, i), pattern(10, i), array(MiB, i), pattern(100 * KiB, i)][i % 4]!;
    const sizes = (i: number) => [300 * KiB + i, 10, MiB, 100 * KiB][i % 4]!;
    const count = 44;
    const sends = [a!, b!].flatMap((ch) => Array.from({ length: count }, (_, i) => ch.send(2, env(i % 2), kinds(i))));
    // Wildcards: each sender's messages in the order sent.
    const next = new Map([[0, 0], [1, 0]]);
    for (let k = 0; k < count; k++) {
      const m = await c!.recv({ source: ANY_SOURCE, ctx: 0, tag: ANY_TAG });
      const i = next.get(m.source)!;
      next.set(m.source, i + 1);
      expect([m.source, i, m.tag, firstBad(m.data, sizes(i), i)]).toEqual([m.source, i, i % 2, -1]);
    }
    // By tag: tag 1 first, each tag in order, from whichever sender.
    for (const tag of [1, 0]) {
      for (const source of [0, 1]) {
        for (let i = next.get(source)!; i < count; i++) {
          if (i % 2 !== tag) continue;
          const m = await c!.recv({ source, ctx: 0, tag });
          expect([source, i, firstBad(m.data, sizes(i), i)]).toEqual([source, i, -1]);
        }
      }
    }
    await Promise.all(sends);
    await close();
  });

  it('a copy of OFFER_FROM bytes or more into a shared buffer offers its first half to the writer; in one thread the reader keeps it and copies all', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], close } = await world(2, undefined, memory, true);
    const before = { ...lentCounts };
    for (const [i, n] of [OFFER_FROM, 3 * MiB + 5, OFFER_FROM - 1].entries()) {
      const got = b!.recv({ source: 0, ctx: 0, tag: i, into: array(n) });
      await a!.send(1, env(i), array(n, i + 7));
      expect([n, firstBad((await got).data, n, i + 7)]).toEqual([n, -1]);
    }
    // The two large ones split (the writer, in this thread, cannot take its half while the reader copies); the smaller one not.
    expect([lentCounts.kept - before.kept, lentCounts.halves - before.halves, lentCounts.direct - before.direct]).toEqual([2, 0, 3]);
    await close();
  });

  it('a lent send whose signal fires after its header went out still completes, with the receiver\'s copy', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], close } = await world(2, undefined, memory, true);
    const ac = new AbortController();
    const sent = a!.send(1, env(1), array(MiB, 3), ac.signal);
    ac.abort(new Error('too late'));
    const m = await b!.recv({ source: 0, ctx: 0, tag: 1, into: array(MiB) });
    await expect(sent).resolves.toBeUndefined();
    expect(firstBad(m.data, MiB, 3)).toBe(-1);
    await close();
  });

  it('the receiver closes without taking it: the lent send fails with FMI_PEER_LOST', async () => {
    const { memory, array } = nodeMemory();
    const { chans: [a, b], close } = await world(2, undefined, memory, true);
    const sent = a!.send(1, env(1), array(MiB, 1));
    await b!.close();
    await expect(sent).rejects.toBeInstanceOf(PeerLostError);
    await close();
  });
});

// Two thread ranks with a node memory: blocking drives, the idle receiver's copy.
const dist = new URL('../../dist/channels/shm/', import.meta.url).href;
const RANK = `
const { workerData: d, parentPort } = require('node:worker_threads');
(async () => {
  const { ShmChannel } = await import(d.dist + 'index.js');
  const { ownBy } = await import(d.dist + 'node-copy.js');
  const { lentCounts } = await import(d.dist + 'in-place.js');
  const c = await ShmChannel.create({ job: 'j', rank: d.rank, size: 2, region: d.region, node: d.memory, lend: true });
  const peer = 1 - d.rank;
  const env = (tag) => ({ ctx: 0, tag, kind: 0 });
  const array = (n) => { const v = new Uint8Array(d.memory.buffer, d.at[d.rank], n); ownBy(v.buffer, d.memory); return v; };
  const fill = (v, seed) => { for (let i = 0; i < v.length; i++) v[i] = (i * 31 + seed) & 255; return v; };
  const bad = (v, seed) => v.findIndex((x, i) => x !== ((i * 31 + seed) & 255));
  const n = 2 << 20;
  const mine = array(2 * n);
  const src = mine.subarray(0, n);
  const into = mine.subarray(n, 2 * n);
  const out = { bad: [] };
  // Both send first, then receive: each send completes once the other, idle, has copied it aside.
  for (let round = 0; round < 3; round++) {
    await c.send(peer, env(1), fill(src, d.rank * 10 + round));
    src.fill(0);
    out.bad.push(bad((await c.recv({ source: peer, ctx: 0, tag: 1, into })).data, peer * 10 + round));
  }
  const exchange = { ...lentCounts };
  // Ping-pong: each receive posted before its message comes, or taken as soon as it does.
  for (let round = 0; round < 20; round++) {
    if (d.rank === 0) {
      await c.send(1, env(2), fill(src, round));
      out.bad.push(bad((await c.recv({ source: 1, ctx: 0, tag: 2, into })).data, round + 1));
    } else {
      const m = await c.recv({ source: 0, ctx: 0, tag: 2, into });
      out.bad.push(bad(m.data, round));
      await c.send(0, env(2), fill(src, round + 1));
    }
  }
  await c.close();
  parentPort.postMessage({ ...out, exchange, total: { ...lentCounts } });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

describe('shm - lent payloads between worker threads', { timeout: 120_000 }, () => {
  it('send-then-receive on both sides completes; a ping-pong copies each message once, straight into the receive', async () => {
    const region = createRegion([0, 1], 64 * KiB);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const at = [memory.grow(64) * PAGE, memory.grow(64) * PAGE];
    const ranks = [0, 1].map(
      (rank) =>
        new Promise<{ bad: number[]; exchange: { direct: number; pooled: number }; total: { direct: number; pooled: number; halves: number; kept: number }; error?: string }>((resolve, reject) => {
          const w = new Worker(RANK, { eval: true, workerData: { dist, region, rank, memory, at } });
          w.once('message', resolve);
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`rank ${rank} exited with ${code} before answering`)));
        }),
    );
    const [r0, r1] = await Promise.all(ranks);
    expect([r0!.error, r1!.error]).toEqual([undefined, undefined]);
    expect([r0!.bad, r1!.bad]).toEqual([Array(23).fill(-1), Array(23).fill(-1)]);
    // The exchange: neither receive was posted before the other's send had to complete.
    expect(r0!.exchange.pooled + r1!.exchange.pooled).toBeGreaterThanOrEqual(3);
    // The ping-pong: 20 messages each way, none copied aside.
    expect([r0!.total.direct - r0!.exchange.direct, r1!.total.direct - r1!.exchange.direct]).toEqual([20, 20]);
    expect([r0!.total.pooled - r0!.exchange.pooled, r1!.total.pooled - r1!.exchange.pooled]).toEqual([0, 0]);
    // Every direct copy (2 MiB into a shared buffer) was split: its first half copied by its writer or kept by its reader.
    const both = (k: 'halves' | 'kept' | 'direct') => r0!.total[k] + r1!.total[k];
    expect(both('halves') + both('kept')).toBe(both('direct'));
  });
});
