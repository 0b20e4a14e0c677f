import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GEN, nodeMemoryFor } from '../src/collectives/node-memory.js';
import { fmiRun } from './helpers/fmi-run.js';
import { runThreadRanks } from './helpers/thread-ranks.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = `${root}test/fixtures/node-coll-rank.mjs`;

/** Runs the fixture as `n` thread ranks of this process; returns their reports and how often the node arena synchronized. */
async function inProcess(n: number, mode: string): Promise<{ lines: string[]; syncs: number; codes: number[] }> {
  const { lines, codes, region } = await runThreadRanks(fixture, n, [mode]);
  const syncs = new Int32Array(nodeMemoryFor(region)!.buffer)[GEN]!;
  return { lines, syncs, codes };
}

const run = fmiRun;

// Thread ranks on a loaded 2-core machine: each battery is some hundreds of collectives.
describe('node collectives - thread ranks of one process share a node arena', { timeout: 600_000 }, () => {
  for (const n of [1, 2, 3, 4]) {
    it(`${n} thread rank${n > 1 ? 's' : ''}: every op and type, into, rooted, bcast, user ops, back to back, dup and split`, async () => {
      const r = await inProcess(n, 'battery');
      expect(r.codes).toEqual(Array(n).fill(0));
      expect(r.lines.sort()).toEqual(Array.from({ length: n }, (_, i) => `PASS ${i}`));
      // The world's collectives went through the arena (a sync per call at least), not through messages.
      if (n > 1) expect(r.syncs).toBeGreaterThan(500);
    });
  }

  it('ranks that call different collectives all fail with a typed error, and the next call works', async () => {
    const r = await inProcess(3, 'mismatch-name');
    expect(r.codes).toEqual([0, 0, 0]);
    for (const rank of [0, 1, 2]) {
      expect(r.lines).toContain(`ERROR ${rank} FMI_MISMATCH`);
      expect(r.lines).toContain(`AFTER ${rank} 3`);
    }
  });

  it('contributions of different counts fail every rank with a typed error', async () => {
    const r = await inProcess(3, 'mismatch-count');
    expect(r.codes).toEqual([0, 0, 0]);
    for (const rank of [0, 1, 2]) {
      expect(r.lines.find((l) => l.startsWith(`ERROR ${rank} `))).toMatch(/FMI_MISMATCH|MPI_ERR_SIZE/);
      expect(r.lines).toContain(`AFTER ${rank} 3`);
    }
  });
});

describe('node collectives - two levels: thread ranks in several processes', { timeout: 600_000 }, () => {
  for (const [n, t] of [[4, 2], [6, 2], [5, 2]] as const) {
    it(`-n ${n} --threads ${t}: the arena within each process, the leaders over direct between them`, async () => {
      const r = await run(['-n', String(n), '--threads', String(t), fixture, 'battery']);
      expect(r.code, r.stderr).toBe(0);
      for (let rank = 0; rank < n; rank++) expect(r.stdout).toContain(`[${rank}] PASS ${rank}`);
    });
  }
});
