import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG } from '../../src/channels/channel.js';
import { createRegion, type ShmRegion } from '../../src/channels/shm/index.js';
import { KiB, MiB, env, firstBad, pattern, world } from './shm-world.js';

// Large messages (32 KiB on) go through a staging area per pair; their
// descriptors go through the ring, in order with the small messages.

describe('shm - large messages through the staging area', () => {
  it('keep their order with small messages of the same pair: large after small, small after large', async () => {
    const { chans: [a, b], close } = await world(2);
    const sizes = [8, 3 * MiB, 100, 64 * KiB, 5, 32 * KiB, 1, 2 * MiB + 3];
    // All sent before any receive is posted: the large ones arrive early, in order.
    await Promise.all(sizes.map((n, i) => a!.send(1, env(7), pattern(n, i))));
    for (let i = 0; i < sizes.length; i++) {
      const got = await b!.recv({ source: 0, ctx: 0, tag: 7 });
      expect([i, firstBad(got.data, sizes[i]!, i)]).toEqual([i, -1]);
    }
    // And with the receives posted first.
    const recvs = sizes.map(() => b!.recv({ source: 0, ctx: 0, tag: 7, into: new Uint8Array(4 * MiB) }));
    await Promise.all(sizes.map((n, i) => a!.send(1, env(7), pattern(n, i + 1))));
    const got = await Promise.all(recvs);
    expect(got.map((m, i) => firstBad(m.data, sizes[i]!, i + 1))).toEqual(sizes.map(() => -1));
    await close();
  });

  it('wildcard receives take large and small messages of several senders, each sender in order', async () => {
    const { chans: [a, b, c], close } = await world(3);
    const seq = [MiB, 10, 40 * KiB, 20];
    await Promise.all([a!, b!].flatMap((ch) => seq.map((n, i) => ch.send(2, env(10 + i), pattern(n, ch.rank * 10 + i)))));
    const seen = new Map<number, number[]>();
    for (let k = 0; k < 2 * seq.length; k++) {
      const m = await c!.recv({ source: ANY_SOURCE, ctx: 0, tag: ANY_TAG });
      const i = m.tag - 10;
      expect(firstBad(m.data, seq[i]!, m.source * 10 + i)).toBe(-1);
      seen.set(m.source, [...(seen.get(m.source) ?? []), i]);
    }
    expect(seen).toEqual(new Map([[0, [0, 1, 2, 3]], [1, [0, 1, 2, 3]]]));
    await close();
  });

  it('a probe sees a large message with its size; the receive then takes it whole', async () => {
    const { chans: [a, b], close } = await world(2);
    const probed = b!.probe({ source: ANY_SOURCE, ctx: 0, tag: 4 });
    await a!.send(1, env(4), pattern(3 * MiB + 1, 9));
    expect(await probed).toEqual({ source: 0, tag: 4, kind: 0, length: 3 * MiB + 1 });
    expect(b!.iprobe({ source: 0, ctx: 0, tag: 4 })?.length).toBe(3 * MiB + 1);
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 4 })).data, 3 * MiB + 1, 9)).toBe(-1);
    await close();
  });

  it('a cancelled large receive: the message goes to the next receive; one cancelled while its payload streams is dropped, the next arrives intact', async () => {
    const { chans: [a, b], close } = await world(2, 64 * KiB);
    const ac = new AbortController();
    const cancelled = b!.recv({ source: 0, ctx: 0, tag: 1, signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(cancelled).rejects.toThrow('gave up');
    await a!.send(1, env(1), pattern(MiB, 1));
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 1 })).data, MiB, 1)).toBe(-1);
    // 1 MiB through a 64 KiB area: the receive matches and takes the first 64 KiB (iprobe takes in what came), then times out.
    const ac2 = new AbortController();
    const into = new Uint8Array(MiB);
    const half = b!.recv({ source: 0, ctx: 0, tag: 2, into, signal: ac2.signal });
    const sent = a!.send(1, env(2), pattern(MiB, 2));
    const next = a!.send(1, env(2), pattern(MiB, 3));
    expect(b!.iprobe({ source: 0, ctx: 0, tag: 2 })).toBeUndefined();
    expect(firstBad(into.subarray(0, 64 * KiB), 64 * KiB, 2)).toBe(-1);
    ac2.abort(new Error('timed out'));
    await expect(half).rejects.toThrow('timed out');
    await Promise.all([sent, next]);
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 2 })).data, MiB, 3)).toBe(-1);
    await close();
  });

  it('a send buffer changed right after the send completes: the receiver gets what was sent', async () => {
    const { chans: [a, b], close } = await world(2);
    const buf = pattern(2 * MiB, 5);
    await a!.send(1, env(1), buf);
    buf.fill(0);
    const sent2 = pattern(2 * MiB, 6);
    const p = a!.send(1, env(1), sent2);
    await p;
    sent2.fill(1);
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 1 })).data, 2 * MiB, 5)).toBe(-1);
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 1 })).data, 2 * MiB, 6)).toBe(-1);
    await close();
  });

  it('many large messages in flight through a small staging area: sends wait for room, none is lost, none hangs', async () => {
    const { chans: [a, b], region, close } = await world(2, 256 * KiB);
    const n = 40;
    const sizes = Array.from({ length: n }, (_, i) => [100 * KiB, 700 * KiB, 33 * KiB, 7][i % 4]!);
    const sends = sizes.map((s, i) => a!.send(1, env(3), pattern(s, i)));
    for (let i = 0; i < n; i++) expect([i, firstBad((await b!.recv({ source: 0, ctx: 0, tag: 3 })).data, sizes[i]!, i)]).toEqual([i, -1]);
    await Promise.all(sends);
    // Grown to its maximum, no further.
    expect(region.bulk![1]!.byteLength).toBe(256 * KiB);
    await close();
  });

  it('the staging area grows to the largest message in flight and is reused from its start: one 1 MiB message at a time keeps it at 1 MiB', async () => {
    const { chans: [a, b], region, close } = await world(2);
    for (let i = 0; i < 20; i++) {
      await a!.send(1, env(1), pattern(MiB - 7 * i, i));
      expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 1 })).data, MiB - 7 * i, i)).toBe(-1);
    }
    expect([region.bulk![1]!.byteLength, region.bulk![2]!.byteLength]).toEqual([MiB, 0]);
    await close();
  });
});

// Ranks in threads of their own: the reader copies out while the writer copies in.
const dist = new URL('../../dist/channels/shm/index.js', import.meta.url).href;
const RANK = `
const { workerData: d, parentPort } = require('node:worker_threads');
(async () => {
  const { ShmChannel } = await import(d.dist);
  const c = await ShmChannel.create({ job: 'j', rank: d.rank, size: 2, region: d.region });
  const env = (tag) => ({ ctx: 0, tag, kind: 0 });
  const pattern = (n, seed) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 255);
  const out = { bad: [] };
  for (let round = 0; round < d.sizes.length; round++) {
    const n = d.sizes[round];
    if (d.rank === 0) {
      const buf = pattern(n, round);
      await c.send(1, env(1), buf);
      buf.fill(0); // sent: the buffer is this rank's again
      await c.send(1, env(2), new Uint8Array([round]));
      await c.recv({ source: 1, ctx: 0, tag: 3 });
    } else {
      const into = new Uint8Array(n);
      const got = await c.recv({ source: 0, ctx: 0, tag: 1, into });
      out.bad.push(got.data.findIndex((x, i) => x !== ((i * 31 + round) & 255)));
      out.bad.push((await c.recv({ source: 0, ctx: 0, tag: 2 })).data[0] - round);
      await c.send(0, env(3), new Uint8Array(1));
    }
  }
  await c.close();
  parentPort.postMessage(out);
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

function rankThread(region: ShmRegion, rank: number, sizes: number[]): Promise<{ bad: number[]; error?: string }> {
  const w = new Worker(RANK, { eval: true, workerData: { dist, region, rank, sizes } });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`rank ${rank} exited with ${code} before answering`)));
  });
}

describe('shm - large messages between worker threads', { timeout: 120_000 }, () => {
  it.each([[undefined], [128 * KiB]])('arrive intact, each after the one before, with the staging area at most %s bytes', async (bulkBytes) => {
    const region = createRegion([0, 1], 64 * KiB, bulkBytes);
    const sizes = [32 * KiB, 4 * MiB, 200 * KiB, 9 * MiB + 5, MiB, 4 * MiB];
    const [w, r] = await Promise.all([0, 1].map((rank) => rankThread(region, rank, sizes)));
    expect(w).toEqual({ bad: [] });
    expect(r).toEqual({ bad: sizes.flatMap(() => [-1, 0]) });
  });
});
