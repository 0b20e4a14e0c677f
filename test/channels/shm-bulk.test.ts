import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ANY_SOURCE, ANY_TAG } from '../../src/channels/channel.js';
import { ShmChannel, createRegion, type ShmRegion } from '../../src/channels/shm/index.js';
import { KiB, MiB, env, firstBad, pattern, world } from './shm-world.js';
import { BULK_TAIL, markGone, ringOffset } from '../../src/channels/shm/region.js';

// The staging area of large messages (src/channels/shm/bulk.ts): chunk and
// area boundaries, early messages left in the area for their receive, many
// pairs at once, a writer that dies half-way.

/** Where the reader of pair (from, to) has freed the staging area up to. */
const bulkTail = (r: ShmRegion, from: number, to: number) => Atomics.load(new Int32Array(r.sab, ringOffset(r, from, to), 32), BULK_TAIL) >>> 0;

describe('shm - staging area boundaries', () => {
  // Around the ring/staging threshold (32 KiB), the writer's chunk (128 KiB) and the area's size.
  const sizes = [32 * KiB - 1, 32 * KiB, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1, 256 * KiB, 384 * KiB + 7];
  it.each([[64 * KiB], [128 * KiB], [undefined]])('messages on each side of a boundary arrive intact, receives posted first and last, area at most %s bytes', async (bulkBytes) => {
    const { chans: [a, b], close } = await world(2, bulkBytes);
    const posted = sizes.map(() => b!.recv({ source: 0, ctx: 0, tag: 1, into: new Uint8Array(MiB) }));
    await Promise.all(sizes.map((n, i) => a!.send(1, env(1), pattern(n, i))));
    expect((await Promise.all(posted)).map((m, i) => firstBad(m.data, sizes[i]!, i))).toEqual(sizes.map(() => -1));
    const sent = sizes.map((n, i) => a!.send(1, env(2), pattern(n, i + 7)));
    for (let i = 0; i < sizes.length; i++) expect([i, firstBad((await b!.recv({ source: 0, ctx: 0, tag: 2, into: new Uint8Array(MiB) })).data, sizes[i]!, i + 7)]).toEqual([i, -1]);
    await Promise.all(sent);
    await close();
  });
});

describe('shm - an early large message waits in the staging area for its receive', () => {
  it('the payload stays in the area (one copy out, by the receive) until a receive into a buffer takes it', async () => {
    const { chans: [a, b], region, close } = await world(2);
    await a!.send(1, env(3), pattern(MiB + 3, 1));
    const before = bulkTail(region, 0, 1);
    // Taken in (the probe sees it), not copied out.
    expect(b!.iprobe({ source: 0, ctx: 0, tag: 3 })?.length).toBe(MiB + 3);
    expect(bulkTail(region, 0, 1)).toBe(before);
    const into = new Uint8Array(2 * MiB);
    const got = await b!.recv({ source: 0, ctx: 0, tag: 3, into });
    expect(got.data.buffer).toBe(into.buffer);
    expect(firstBad(got.data, MiB + 3, 1)).toBe(-1);
    expect((bulkTail(region, 0, 1) - before) >>> 0).toBe(MiB + 3);
    // A receive too small fails as ever, and the message is gone.
    await a!.send(1, env(3), pattern(MiB, 2));
    await expect(b!.recv({ source: 0, ctx: 0, tag: 3, into: new Uint8Array(10) })).rejects.toMatchObject({ code: 'MPI_ERR_TRUNCATE' });
    expect(b!.iprobe({ source: 0, ctx: 0, tag: 3 })).toBeUndefined();
    await close();
  });

  it('small messages after it go on; the next large one and a writer out of room move it out; received in any order, all intact', async () => {
    const { chans: [a, b], close } = await world(2, 256 * KiB);
    const sizes = [200 * KiB, 10, 200 * KiB, 40 * KiB, 250 * KiB, 7];
    const sends = sizes.map((n, i) => a!.send(1, env(20 + i), pattern(n, i)));
    // Last first: every one has to have arrived without its receive.
    for (let i = sizes.length - 1; i >= 0; i--) {
      const m = await b!.recv({ source: 0, ctx: 0, tag: 20 + i, into: i % 2 === 0 ? new Uint8Array(256 * KiB) : undefined });
      expect([i, firstBad(m.data, sizes[i]!, i)]).toEqual([i, -1]);
    }
    await Promise.all(sends);
    await close();
  });

  it('wildcard receives and probes take early large messages of several senders, each sender in order', async () => {
    const { chans: [a, b, c], close } = await world(3);
    await a!.send(2, env(5), pattern(MiB, 1));
    await b!.send(2, env(6), pattern(300 * KiB, 2));
    await a!.send(2, env(7), pattern(9, 3));
    expect(await c!.probe({ source: ANY_SOURCE, ctx: 0, tag: 6 })).toEqual({ source: 1, tag: 6, kind: 0, length: 300 * KiB });
    const got = [];
    for (let k = 0; k < 3; k++) got.push(await c!.recv({ source: ANY_SOURCE, ctx: 0, tag: ANY_TAG, into: new Uint8Array(MiB) }));
    // No order between senders; each sender's in order.
    const order = got.map((m) => [m.source, m.tag]);
    expect(order.filter(([s]) => s === 0)).toEqual([[0, 5], [0, 7]]);
    expect(order).toContainEqual([1, 6]);
    const want = new Map([[5, [MiB, 1]], [6, [300 * KiB, 2]], [7, [9, 3]]]);
    expect(got.map((m) => firstBad(m.data, want.get(m.tag)![0]!, want.get(m.tag)![1]!))).toEqual([-1, -1, -1]);
    await close();
  });

  it('a message whose writer closed right after sending it is still received whole; the next receive from it fails', async () => {
    const { chans: [a, b], close } = await world(2);
    await a!.send(1, env(9), pattern(MiB, 5));
    await a!.close();
    expect(b!.iprobe({ source: 0, ctx: 0, tag: 9 })?.length).toBe(MiB);
    expect(firstBad((await b!.recv({ source: 0, ctx: 0, tag: 9, into: new Uint8Array(MiB) })).data, MiB, 5)).toBe(-1);
    await expect(b!.recv({ source: 0, ctx: 0, tag: 9 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    await close();
  });

  it('a receive with a signal takes it too', async () => {
    const { chans: [a, b], close } = await world(2);
    await a!.send(1, env(8), pattern(MiB, 4));
    b!.iprobe({ source: 0, ctx: 0, tag: 8 });
    const m = await b!.recv({ source: 0, ctx: 0, tag: 8, signal: AbortSignal.timeout(10_000) });
    expect(firstBad(m.data, MiB, 4)).toBe(-1);
    await close();
  });
});

// Ranks in worker threads of their own.
const dist = new URL('../../dist/channels/shm/index.js', import.meta.url).href;
const ALL_TO_ALL = `
const { workerData: d, parentPort } = require('node:worker_threads');
(async () => {
  const { ShmChannel } = await import(d.dist);
  const c = await ShmChannel.create({ job: 'j', rank: d.rank, size: d.size, region: d.region });
  const pattern = (n, seed) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 255);
  const bad = [];
  for (let round = 0; round < d.sizes.length; round++) {
    const n = d.sizes[round] + d.rank;
    const peers = [...Array(d.size).keys()].filter((p) => p !== d.rank);
    const recvs = peers.map((p) => c.recv({ source: p, ctx: 0, tag: round, into: round % 2 ? new Uint8Array(d.sizes[round] + d.size) : undefined }));
    await Promise.all(peers.map((p) => c.send(p, { ctx: 0, tag: round, kind: 0 }, pattern(n, d.rank * 7 + p + round))));
    const got = await Promise.all(recvs);
    got.forEach((m, k) => {
      const p = peers[k], len = d.sizes[round] + p;
      if (m.data.byteLength !== len || m.data.some((x, i) => x !== ((i * 31 + p * 7 + d.rank + round) & 255))) bad.push([round, p]);
    });
  }
  await c.close();
  parentPort.postMessage({ bad });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

function thread(code: string, workerData: Record<string, unknown>): { done: Promise<unknown>; worker: Worker } {
  const worker = new Worker(code, { eval: true, workerData: { dist, ...workerData } });
  const done = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`thread exited with ${code} before answering`)));
  });
  return { done, worker };
}

describe('shm - large messages between worker threads', { timeout: 180_000 }, () => {
  it('4 ranks send large messages to each other at once, every pair through its own staging area: all intact', async () => {
    const size = 4;
    const region = createRegion([0, 1, 2, 3], 64 * KiB, 512 * KiB);
    const sizes = [40 * KiB, 2 * MiB, 128 * KiB, 700 * KiB, 3 * MiB];
    const out = await Promise.all([0, 1, 2, 3].map((rank) => thread(ALL_TO_ALL, { region, rank, size, sizes }).done));
    expect(out).toEqual([0, 1, 2, 3].map(() => ({ bad: [] })));
  });

  it('a writer whose thread ends half-way through a message larger than the area: the receive fails with FMI_PEER_LOST, no hang', async () => {
    const region = createRegion([0, 1], 64 * KiB, 64 * KiB);
    const job = randomUUID();
    const b = await ShmChannel.create({ job, rank: 1, size: 2, region });
    const { worker, done } = thread(
      `
      const { workerData: d } = require('node:worker_threads');
      (async () => {
        const { ShmChannel } = await import(d.dist);
        const c = await ShmChannel.create({ job: 'j', rank: 0, size: 2, region: d.region });
        void c.send(1, { ctx: 0, tag: 1, kind: 0 }, new Uint8Array(4 * 1024 * 1024).fill(1));
        // Ends with its send under way (the first 64 KiB written, no close): the host marks it gone, as fmi run's does.
        process.exit(0);
      })();
      `,
      { region },
    );
    done.catch(() => {}); // it never answers
    worker.once('exit', () => markGone(region, 0));
    const into = new Uint8Array(4 * MiB);
    await expect(b.recv({ source: 0, ctx: 0, tag: 1, into })).rejects.toMatchObject({ code: 'FMI_PEER_LOST', peer: 0 });
    // Some of it came, not all.
    expect(into[0]).toBe(1);
    expect(into[4 * MiB - 1]).toBe(0);
    await b.close();
  });
});
