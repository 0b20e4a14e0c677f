import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRegion } from '../src/channels/shm/region.js';
import { nodeMemoryFor } from '../src/collectives/node-memory.js';

// The node arena's release: the last rank to arrive at a sync wakes all
// waiters, or (FMI_NODE_WAKE=chain) one, and each waiter the next as it
// wakes. Waits here block without a bound that matters (FMI_NODE_BLOCK_US of
// 10 minutes, no event loop to fall back on in time), so a waiter the
// release missed would hang the test: every
// rank must pass every sync, and see every write made before it. Real worker
// threads running the built arena (dist/), arriving in varying order.
const dist = new URL('../dist/collectives/node-arena.js', import.meta.url).href;

const RANK = `
const { workerData: d, parentPort } = require('node:worker_threads');
(async () => {
  const { NodeArena } = await import(d.dist);
  const arena = new NodeArena(d.memory, d.region, d.rank, d.size, {});
  const seen = new Int32Array(d.seen);
  const fields = { rank: d.rank, op: 'barrier' };
  let stale = 0;
  let x = d.rank + 1;
  for (let i = 1; i <= d.syncs; i++) {
    // A pseudo-random pause before arriving, so that any rank may arrive last and the others sleep.
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const end = performance.now() + (x % 4) * 0.02;
    while (performance.now() < end);
    Atomics.store(seen, d.rank, i);
    // Every third one through the leader's step (syncVia), as two-level calls release.
    if (i % 3 === 0) await arena.syncVia(async () => {}, undefined, fields);
    else await arena.sync(undefined, fields);
    for (let s = 0; s < d.size; s++) if (Atomics.load(seen, s) < i) stale++;
  }
  arena.close();
  parentPort.postMessage({ stale });
})().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
`;

describe('node arena - release', { timeout: 300_000 }, () => {
  it.each(['all', 'chain'])('FMI_NODE_WAKE=%s, 4 thread ranks blocking without a bound: every sync releases every rank, after every write before it', async (wake) => {
    const size = 4;
    const syncs = 1500;
    const region = createRegion([0, 1, 2, 3]);
    const memory = nodeMemoryFor(region)!;
    const seen = new SharedArrayBuffer(4 * size);
    const env = { ...process.env, FMI_NODE_BLOCK_US: String(600_000_000), FMI_NODE_WAKE: wake };
    const out = await Promise.all(
      Array.from(
        { length: size },
        (_, rank) =>
          new Promise<{ stale?: number; error?: string }>((resolve, reject) => {
            const w = new Worker(RANK, { eval: true, env, workerData: { dist, memory, region, rank, size, syncs, seen } });
            w.once('message', resolve);
            w.once('error', reject);
          }),
      ),
    );
    for (const o of out) expect(o.error).toBeUndefined();
    expect(out.map((o) => o.stale)).toEqual([0, 0, 0, 0]);
  });
});
