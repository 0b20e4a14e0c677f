// Broadcast from rank 0 (a Uint8Array) over fmi's direct channel.
//   node dist/cli/main.js run -n 4 --no-prefix bench/bcast.mjs
//
// OSU style (osu_bcast): every rank times its own bcast call, then a barrier
// (not timed) separates the calls, so one call's tail does not overlap the
// next. A sample is the slowest rank's time for that call (per-iteration max
// over ranks). MB/s = payload bytes / p50. Every rank checks the payload it
// got after each size.
// stdout (rank 0): one JSON line per size, see bench/README.md.
//
// Environment: FMI_BENCH_QUICK=1, FMI_BENCH_MS, FMI_BENCH_SIZES (bytes,
// e.g. "1k,1m").
//   FMI_BENCH_INTO=1   pass `{ into }`: every call receives into one buffer
//     (as MPI_Bcast does) instead of a new array (variant "u8,into")

import { init } from 'fmi';
import { emit, fillPattern, isOn, mbPerS, sizesFrom, summarize } from './lib/common.mjs';
import { BCAST_SIZES, runPlan } from './lib/plan.mjs';

const INTO = isOn(process.env.FMI_BENCH_INTO);
const comm = await init();
const { rank, size } = comm;
const sizes = sizesFrom(BCAST_SIZES);
for (const bytes of sizes) {
  const payload = new Uint8Array(bytes);
  if (rank === 0) fillPattern(payload, bytes & 0xff);
  const opts = INTO ? { into: new Uint8Array(bytes) } : {};
  let out;
  const { iters, slowest, warmupMs } = await runPlan(comm, bytes === sizes[0], async () => {
    const s = performance.now();
    out = await comm.bcast(rank === 0 ? payload : undefined, 0, opts);
    const t = performance.now() - s;
    await comm.barrier();
    return t;
  });
  const want = new Uint8Array(bytes);
  fillPattern(want, bytes & 0xff);
  if (!(out instanceof Uint8Array) || out.length !== bytes || Buffer.compare(out, want) !== 0) {
    throw new Error(`bcast: rank ${rank} got a wrong payload of ${out?.length} bytes (expected ${bytes})`);
  }
  if (rank === 0) {
    const s = summarize(slowest, iters);
    emit({ bench: 'bcast', impl: 'fmi', channel: 'direct', ranks: size, bytes, iters, ...s, mb_s: mbPerS(bytes, s.p50_us), variant: INTO ? 'u8,into' : 'u8', warmup_ms: warmupMs });
  }
}
await comm.close();
