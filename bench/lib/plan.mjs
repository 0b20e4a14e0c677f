// The iteration plan of the collective benchmarks, shared by allreduce,
// bcast and barrier: rank 0 decides, the others follow (see bench/README.md,
// "How it is measured"). Imports nothing of fmi; `comm` is a Communicator.

import { Op } from 'fmi';
import { KiB, MiB, itersFor, warmUpPlan } from './common.mjs';

/** Bcast payload sizes (bytes). */
export const BCAST_SIZES = [KiB, 64 * KiB, MiB, 4 * MiB];

/**
 * Runs `call(i, measured)` in batches: 1, 2, 4… during warm-up (common.mjs's
 * warmUpPlan: at least 500 ms for the first size, else 100 ms, and by default
 * until the time per call is steady), then one measured batch of about
 * FMI_BENCH_MS. `call` times itself and returns the sample in ms (or
 * undefined when it does not sample). Returns the per-call samples of the
 * measured batch, the slowest rank's per iteration at rank 0 (undefined
 * elsewhere), their number, and the warm-up's length in ms (rank 0).
 */
export async function runPlan(comm, first, call) {
  const cmd = new Float64Array(2); // [iterations, measured?]
  let samples;
  let n = 1;
  const warm = warmUpPlan(first);
  for (;;) {
    if (comm.rank === 0) {
      cmd[0] = n;
      cmd[1] = samples ? 1 : 0;
    }
    const c = await comm.bcast(comm.rank === 0 ? cmd : undefined, 0);
    const count = c[0];
    const measured = c[1] === 1;
    if (measured && (!samples || samples.length !== count)) samples = new Float64Array(count);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const s = await call(i, measured);
      if (measured) samples[i] = s;
    }
    const dt = performance.now() - t0;
    if (measured) {
      const slowest = await comm.reduce(samples, Op.MAX, 0);
      return { iters: count, slowest, warmupMs: Math.round(warm.spentMs) };
    }
    // Rank 0 plans the next batch: double during warm-up, then the measured run.
    if (comm.rank === 0) {
      if (warm.over(dt, n)) {
        n = itersFor(dt / n);
        samples = new Float64Array(n);
      } else n *= 2;
    }
  }
}
