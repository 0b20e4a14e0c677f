import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRegion } from '../src/channels/shm/region.js';
import { nodeMemoryFor } from '../src/collectives/node-memory.js';

// How the node arena's syncs wait and release. Real worker threads running
// the built arena (dist/), one per local rank.
const dist = new URL('../dist/collectives/node-arena.js', import.meta.url).href;

/**
 * Runs `body` in a worker thread per rank of `ranks` (a job of `size`), with
 * `arena` (this rank's NodeArena) and `d` (workerData: rank, size, `data`)
 * in scope; `body` ends by handing back an object (`return`). Resolves to
 * each rank's object.
 */
async function arenaRanks<T>(ranks: number[], size: number, body: string, data: object, env: NodeJS.ProcessEnv): Promise<T[]> {
  const code = `
const { workerData: d, parentPort } = require('node:worker_threads');
(async () => {
  const { NodeArena } = await import(d.dist);
  const arena = new NodeArena(d.memory, d.region, d.rank, d.size, {});
  ${body}
})().then((out) => parentPort.postMessage(out), (e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
`;
  const region = createRegion(ranks);
  const memory = nodeMemoryFor(region)!;
  const out = await Promise.all(
    ranks.map(
      (rank) =>
        new Promise<T & { error?: string }>((resolve, reject) => {
          const w = new Worker(code, { eval: true, env, workerData: { dist, memory, region, rank, size, ...data } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  for (const o of out) expect(o.error).toBeUndefined();
  return out;
}

// Syncs during which the event loop turned: one immediate is armed before each sync and runs only if
// the thread goes back to its event loop (a waitAsync wake-up); blocking waits chain on microtasks.
// At most one per sync, so a partner that starts late or is descheduled past the bound counts once.
const TURNS = `
  let turns = 0;
  let armed = false;
  const turned = () => { armed = false; turns++; };
  for (let i = 0; i < d.syncs; i++) {
    if (!armed) { armed = true; setImmediate(turned); }
    await arena.sync(undefined, { rank: d.rank, op: 'barrier' });
  }
  arena.close();
  return { turns };
`;

/** Syncs with an event loop turn, per sync of two thread ranks (both ranks' counts summed: 0 to 2), in a job of `size` ranks. */
async function turnsPerSync(size: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const syncs = 300;
  const out = await arenaRanks<{ turns: number }>([0, 1], size, TURNS, { syncs }, env);
  return out.reduce((s, o) => s + o.turns, 0) / syncs;
}

// Whether the waits block their thread in Atomics.wait by default, as the shm
// channel's do: yes where every rank of the job is a thread of this process,
// no where some are elsewhere (a leader's sockets need its event loop).
describe('node arena - blocking by default', { timeout: 120_000 }, () => {
  it('every rank a thread of this process: syncs wait in Atomics.wait, not on the event loop', async () => {
    expect(await turnsPerSync(2)).toBeLessThan(0.5);
  });

  it('a rank elsewhere in the job: syncs wait on the event loop (a turn per wait)', async () => {
    expect(await turnsPerSync(3)).toBeGreaterThan(0.5);
  });

  it('FMI_NODE_BLOCK_US=0: a job of threads waits on the event loop too', async () => {
    expect(await turnsPerSync(2, { ...process.env, FMI_NODE_BLOCK_US: '0' })).toBeGreaterThan(0.5);
  });
});

// Syncs (every third through the leader's step, syncVia, as two-level calls
// release) after a pseudo-random pause, so that any rank may arrive last and
// the others sleep; how often a rank, released, missed a write made before.
const RELEASE = `
  const seen = new Int32Array(d.seen);
  const fields = { rank: d.rank, op: 'barrier' };
  let stale = 0;
  let x = d.rank + 1;
  for (let i = 1; i <= d.syncs; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const end = performance.now() + (x % 4) * 0.02;
    while (performance.now() < end);
    Atomics.store(seen, d.rank, i);
    if (i % 3 === 0) await arena.syncVia(async () => {}, undefined, fields);
    else await arena.sync(undefined, fields);
    for (let s = 0; s < d.size; s++) if (Atomics.load(seen, s) < i) stale++;
  }
  arena.close();
  return { stale };
`;

// The release: the last rank to arrive wakes all waiters (FMI_NODE_WAKE=all),
// or one, and each waiter the next as it wakes (FMI_NODE_WAKE=chain, and the
// default for up to 4 local ranks; any other value is the default). The
// waits block without a bound that matters (FMI_NODE_BLOCK_US of 10
// minutes, no event loop to fall back on in time), so a waiter the release
// missed hangs the test.
describe('node arena - release', { timeout: 300_000 }, () => {
  it.each(['all', 'chain', 'default'])('FMI_NODE_WAKE=%s, 4 thread ranks blocking without a bound: every sync releases every rank, after every write before it', async (wake) => {
    const env = { ...process.env, FMI_NODE_BLOCK_US: String(600_000_000), FMI_NODE_WAKE: wake };
    const out = await arenaRanks<{ stale: number }>([0, 1, 2, 3], 4, RELEASE, { syncs: 1500, seen: new SharedArrayBuffer(16) }, env);
    expect(out.map((o) => o.stale)).toEqual([0, 0, 0, 0]);
  });
});
