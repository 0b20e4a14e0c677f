import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nodeMemoryFor } from '../src/collectives/node-memory.js';
import { fmiRun } from './helpers/fmi-run.js';
import { runThreadRanks } from './helpers/thread-ranks.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixture = `${root}test/fixtures/node-shared-rank.mjs`;

/** Runs the fixture as `n` thread ranks of this process: their reports, exit codes, and the node memory's size after. */
async function inProcess(n: number): Promise<{ lines: string[]; codes: number[]; bytes: number }> {
  const { lines, codes, region } = await runThreadRanks(fixture, n);
  return { lines, codes, bytes: nodeMemoryFor(region)!.buffer.byteLength };
}

// Some hundreds of collectives of up to 1.3 MiB per rank: generous on a loaded 2-core machine.
describe('sharedArray: collectives of thread ranks read shared arrays in place', { timeout: 600_000 }, () => {
  for (const n of [1, 2, 4]) {
    it(`${n} thread rank${n > 1 ? 's' : ''}: shared, plain and offset contributions mixed, into shared or plain, the memory growing meanwhile`, async () => {
      const r = await inProcess(n);
      expect(r.codes).toEqual(Array(n).fill(0));
      expect(r.lines.sort()).toEqual(Array.from({ length: n }, (_, i) => `PASS ${i} threads`));
      // The arrays came from the node memory: more than 64 MiB of them.
      expect(r.bytes).toBeGreaterThan(64 * 1024 * 1024);
    });
  }

  it('4 thread ranks: shared arrays into shared arrays go straight into the results, with no slot in the arena (it does not grow); plain results grow it', async () => {
    const { lines, codes } = await runThreadRanks(`${root}test/fixtures/node-direct-rank.mjs`, 4);
    expect(codes).toEqual([0, 0, 0, 0]);
    expect(lines.filter((l) => l.startsWith('PASS')).sort()).toEqual(['PASS 0', 'PASS 1', 'PASS 2', 'PASS 3']);
    const mib = (part: string) => Math.max(...lines.filter((l) => l.includes(` ${part} `)).map((l) => Number(l.split(' ').pop())));
    // The ranks' 12 arrays of 8 MiB, the 1 MiB of the arena's first slots and some pages of small arrays: not the sets of 2 x 4 slots of 8 MiB.
    expect(mib('shared')).toBeGreaterThanOrEqual(96);
    expect(mib('shared')).toBeLessThan(96 + 16);
    expect(mib('plain')).toBeGreaterThanOrEqual(96 + 64);
  });

  it('large messages between thread ranks, from and into shared and plain arrays, staged in the node memory: the pairs\' own buffers stay empty', async () => {
    const { lines, codes, region } = await runThreadRanks(`${root}test/fixtures/node-p2p-rank.mjs`, 3);
    expect(codes).toEqual([0, 0, 0]);
    expect(lines.sort()).toEqual(['PASS 0 p2p', 'PASS 1 p2p', 'PASS 2 p2p']);
    expect(region.bulk!.map((s) => s?.byteLength ?? 0)).toEqual(Array(9).fill(0));
    // Each pair that carried them took 4 MiB of node pages for its area.
    expect(nodeMemoryFor(region)!.buffer.byteLength).toBeGreaterThan(3 * 4 * 1024 * 1024);
  });

  it('ranks as processes get plain arrays, and the same program passes', async () => {
    const r = await fmiRun(['-n', '2', fixture]);
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1]) expect(r.stdout).toContain(`[${rank}] PASS ${rank} plain`);
  });

  it('two levels: -n 4 --threads 2, shared arrays in each process', async () => {
    const r = await fmiRun(['-n', '4', '--threads', '2', fixture]);
    expect(r.code, r.stderr).toBe(0);
    for (const rank of [0, 1, 2, 3]) expect(r.stdout).toContain(`[${rank}] PASS ${rank} threads`);
  });
});
