import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRegion } from '../src/channels/shm/region.js';
import { nodeMemoryFor } from '../src/collectives/node-memory.js';

// Whether the node arena's waits block their thread in Atomics.wait by
// default, as the shm channel's do: yes where every rank of the job is a
// thread of this process, no where some are elsewhere (a leader's sockets
// need its event loop). Real worker threads running the built arena (dist/).
const dist = new URL('../dist/collectives/node-arena.js', import.meta.url).href;

const RANK = `
const { workerData: d, parentPort } = require('node:worker_threads');
(async () => {
  const { NodeArena } = await import(d.dist);
  const arena = new NodeArena(d.memory, d.region, d.rank, d.size, {});
  // Syncs during which the event loop turned: one immediate is armed before each sync and runs only if
  // the thread goes back to its event loop (a waitAsync wake-up); blocking waits chain on microtasks.
  // At most one per sync, so a partner that starts late or is descheduled past the bound counts once.
  let turns = 0;
  let armed = false;
  const turned = () => { armed = false; turns++; };
  for (let i = 0; i < d.syncs; i++) {
    if (!armed) { armed = true; setImmediate(turned); }
    await arena.sync(undefined, { rank: d.rank, op: 'barrier' });
  }
  arena.close();
  parentPort.postMessage({ turns });
})().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
`;

/** Syncs with an event loop turn, per sync of two thread ranks (both ranks' counts summed: 0 to 2), in a job of `size` ranks. */
async function turnsPerSync(size: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const syncs = 300;
  const region = createRegion([0, 1]);
  const memory = nodeMemoryFor(region)!;
  const out = await Promise.all(
    [0, 1].map(
      (rank) =>
        new Promise<{ turns?: number; error?: string }>((resolve, reject) => {
          const w = new Worker(RANK, { eval: true, env, workerData: { dist, memory, region, rank, size, syncs } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  for (const o of out) expect(o.error).toBeUndefined();
  return out.reduce((s, o) => s + o.turns!, 0) / syncs;
}

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
