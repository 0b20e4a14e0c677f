import { describe, expect, it } from 'vitest';
import { fmiRun } from './helpers/fmi-run.js';

/*
 * The main job (examples/train-sgd.mjs) with its ranks as worker threads
 * (issue 13): `fmi run -n 4 --threads` (one process) and `--threads 2` (two
 * processes of two) must train to the weights and test accuracy that 4 rank
 * processes reach. The reductions may group the ranks differently (shared
 * memory within a process), so weights are compared up to rounding.
 */


/** As test/examples.test.ts: small enough for a loaded 2-core machine, big enough to learn. */
const SMALL = ['--epochs', '2', '--samples', '8000', '--hidden', '64', '--batch', '128', '--lr', '0.1', '--seed', '7'];
const RESULT = /^\[0\] result: test accuracy (\d\.\d+) after 2 epochs on 4 ranks \(comm [\d.]+ s of [\d.]+ s\)$/m;
const WEIGHTS = /^\[0\] weights: sum (\S+)\s+l2 (\S+)\s+mix (\S+)\s+\(identical on all ranks\)$/m;

const train = (threads: string[]) => fmiRun(['-n', '4', ...threads, 'examples/train-sgd.mjs', ...SMALL]);

describe('examples - train-sgd with ranks as threads', { timeout: 300_000 }, () => {
  it('-n 4 --threads and --threads 2 end with the weights and test accuracy of 4 processes', async () => {
    // One after another: each job wants both cores.
    const runs = [];
    for (const threads of [[], ['--threads'], ['--threads', '2']]) runs.push(await train(threads));
    const [procs, ...threaded] = runs;
    expect(procs!.code, procs!.stderr).toBe(0);
    const want = procs!.stdout.match(WEIGHTS)!.slice(1).map(Number);
    const acc = procs!.stdout.match(RESULT)![1];
    expect(Number(acc)).toBeGreaterThan(0.6);
    for (const r of threaded) {
      expect(r.code, r.stderr).toBe(0);
      const m = r.stdout.match(WEIGHTS);
      expect(m, r.stdout).not.toBeNull();
      const got = m!.slice(1).map(Number);
      for (let i = 0; i < 3; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-8 * Math.max(1, Math.abs(want[i]!)));
      expect(r.stdout.match(RESULT)?.[1], r.stdout).toBe(acc);
    }
  });
});
