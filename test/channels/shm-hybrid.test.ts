import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY_SOURCE, RendezvousServer, type Endpoint } from '../../src/index.js';
import { DirectChannel } from '../../src/channels/direct/direct-channel.js';
import { HybridChannel } from '../../src/channels/shm/hybrid-channel.js';
import { ShmChannel, createRegion, type ShmRegion } from '../../src/channels/shm/index.js';
import type { ChannelFactory } from '../../src/channels/channel.js';
import { Matcher } from '../../src/channels/matcher.js';
import { channelCompliance, withChannelWorld } from './compliance.js';

let server: RendezvousServer;
let addr: Endpoint;
beforeAll(async () => {
  server = new RendezvousServer();
  addr = await server.listen();
});
afterAll(() => server.close());

// A mixed job as `fmi run --threads 2` makes it: ranks in "processes" of two,
// shared memory within one, direct TCP between them (here all in one thread).
const regions = new Map<string, ShmRegion>();
function regionOf(job: string, rank: number, size: number): ShmRegion {
  const first = rank - (rank % 2);
  const key = `${job}/${first}`;
  let r = regions.get(key);
  if (!r) regions.set(key, (r = createRegion(Array.from({ length: Math.min(2, size - first) }, (_, i) => first + i))));
  return r;
}
const hybrid: ChannelFactory = async (o) => {
  // One matcher for both channels, as channel-set.ts makes it: one MPI order for all receives.
  const matcher = new Matcher(o.rank, 'direct');
  const region = regionOf(o.job, o.rank, o.size);
  const shm = await ShmChannel.create({ ...o, region, matcher });
  return new HybridChannel(shm, await DirectChannel.create({ ...o, server: addr, matcher, carriedElsewhere: region.ranks }));
};

channelCompliance('shm + direct', hybrid, { sizes: [3, 5], largeBytes: 2 << 20 });

describe('shm + direct - wildcards', () => {
  it('a receive from any source takes messages from both channels, each source in order; probes see both', async () => {
    await withChannelWorld(hybrid, 4, async (c) => {
      if (c.rank !== 0) {
        for (let i = 0; i < 5; i++) await c.send(new Int32Array([c.rank, i]), 0, { tag: 7 });
        return;
      }
      const next = new Map<number, number>();
      for (let k = 0; k < 15; k++) {
        // The MPI idiom (probe any, receive from the source it names) and plain wildcard receives, in turn.
        const source = k % 2 === 0 ? (await c.probe(ANY_SOURCE, { tag: 7 })).source : ANY_SOURCE;
        const [from, i] = Array.from(await c.recv<Int32Array>(source, { tag: 7 }));
        if (source !== ANY_SOURCE) expect(from).toBe(source);
        expect(i).toBe(next.get(from!) ?? 0);
        next.set(from!, i! + 1);
      }
      expect([...next.entries()].sort()).toEqual([[1, 5], [2, 5], [3, 5]]);
    }, randomUUID());
  });

  it('receives pending at once match in the order posted, whichever channel brings the message (wildcard before a named source, local and remote)', async () => {
    await withChannelWorld(hybrid, 4, async (c) => {
      // Rank 1 shares rank 0's memory; rank 2 is in the other process.
      if (c.rank === 1 || c.rank === 2) {
        await c.recv(0, { tag: 9 });
        for (const i of [1, 2, 3]) await c.send(new Int32Array([c.rank, i]), 0, { tag: 7 });
        return;
      }
      if (c.rank !== 0) return;
      for (const peer of [2, 1]) {
        // MPI: a message goes to the earliest posted receive it fits.
        const first = c.recv<Int32Array>(ANY_SOURCE, { tag: 7 });
        const second = c.recv<Int32Array>(peer, { tag: 7 });
        const third = c.recv<Int32Array>(ANY_SOURCE, { tag: 7 });
        await c.send(new Int32Array(1), peer, { tag: 9 });
        const got = await Promise.all([first, second, third]);
        expect(got.map((m) => Array.from(m))).toEqual([[peer, 1], [peer, 2], [peer, 3]]);
      }
    }, randomUUID());
  });

  it('a rank that shares memory and leaves the rendezvous server: its shared-memory messages still arrive (the direct channel does not fail them)', async () => {
    const job = randomUUID();
    const region = createRegion([0, 1]);
    const pair = await Promise.all([0, 1].map(async (rank) => {
      const matcher = new Matcher(rank, 'direct');
      const shm = await ShmChannel.create({ job, rank, size: 3, region, matcher });
      const direct = await DirectChannel.create({ job, rank, size: 3, server: addr, matcher, carriedElsewhere: region.ranks });
      return { hybrid: new HybridChannel(shm, direct), direct };
    }));
    const third = await DirectChannel.create({ job, rank: 2, size: 3, server: addr });
    const env = { ctx: 0, tag: 4, kind: 0 };
    const got = pair[0]!.hybrid.recv({ source: 1, ctx: 0, tag: 4 });
    // Rank 1's TCP side goes: the server tells rank 0 that rank 1 is gone.
    await pair[1]!.direct.close();
    await new Promise((r) => setTimeout(r, 500));
    await pair[1]!.hybrid.send(0, env, new Uint8Array([42]));
    expect(Array.from((await got).data)).toEqual([42]);
    await Promise.all([pair[0]!.hybrid.close(), pair[1]!.hybrid.close(), third.close()]);
  });
});
