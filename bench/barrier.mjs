// Barrier over fmi's direct channel.
//   node dist/cli/main.js run -n 4 --no-prefix bench/barrier.mjs
//
// Barriers run back to back (osu_barrier). Every rank times every call; a
// sample is the slowest rank's time for that call (per-iteration max over
// ranks). One result line with bytes 0 (mb_s 0).
// stdout (rank 0): one JSON line, see bench/README.md.
//
// Environment: FMI_BENCH_QUICK=1, FMI_BENCH_MS.

import { init } from 'fmi';
import { emit, summarize } from './lib/common.mjs';
import { runPlan } from './lib/plan.mjs';

const comm = await init();
const { iters, slowest, warmupMs } = await runPlan(comm, true, async () => {
  const s = performance.now();
  await comm.barrier();
  return performance.now() - s;
});
if (comm.rank === 0) {
  const s = summarize(slowest, iters);
  emit({ bench: 'barrier', impl: 'fmi', channel: 'direct', ranks: comm.size, bytes: 0, iters, ...s, mb_s: 0, warmup_ms: warmupMs });
}
await comm.close();
