// One rank of bench/threads-scale.mjs: start-up phases (ms since the launch,
// FMI_BENCH_T0), then barrier and allreduce of 1 KiB (f64 SUM), each timed by
// runPlan (the slowest rank's time per call). Rank 0 prints one JSON line per
// result, with the layout (FMI_BENCH_LAYOUT, "64x1" or "16x4") as variant.
//   node dist/cli/main.js run -n 64 --threads 4 --no-prefix bench/threads-scale-rank.mjs

const t0 = Number(process.env.FMI_BENCH_T0 ?? Date.now());
const start = performance.timeOrigin - t0;
const { init, Op } = await import('fmi');
const { emit, summarize, KiB } = await import('./lib/common.mjs');
const { runPlan } = await import('./lib/plan.mjs');
const imported = Date.now() - t0;
const comm = await init();
const ready = Date.now() - t0;
await comm.barrier();
const done = Date.now() - t0;

const variant = process.env.FMI_BENCH_LAYOUT ?? `${comm.size}x1`;
// Thread ranks talk over shared memory within their process (unless FMI_SHM=0), direct TCP between processes.
const { isMainThread } = await import('node:worker_threads');
const channel = !isMainThread && process.env.FMI_SHM !== '0' ? 'shm+direct' : comm.channels.join('+');
const { rank, size } = comm;

// Start-up: the slowest rank's time per phase (process or thread start, import, init, first barrier).
const phases = await comm.gather(Float64Array.of(start, imported - start, ready - imported, done - ready, done), 0);
if (rank === 0) {
  const max = (k) => Math.max(...Array.from({ length: size }, (_, r) => phases[5 * r + k]));
  process.stdout.write(JSON.stringify({ bench: 'startup', variant, ranks: size, launch_to_barrier_ms: Math.round(max(4)), start_ms: Math.round(max(0)), import_ms: Math.round(max(1)), init_ms: Math.round(max(2)), barrier_ms: Math.round(max(3)) }) + '\n');
}

const b = await runPlan(comm, true, async () => {
  const s = performance.now();
  await comm.barrier();
  return performance.now() - s;
});
if (rank === 0) emit({ bench: 'barrier', impl: 'fmi', channel, ranks: size, bytes: 0, iters: b.iters, ...summarize(b.slowest, b.iters), mb_s: 0, variant });

const data = new Float64Array(KiB / 8).fill(rank + 1);
const into = new Float64Array(KiB / 8);
const a = await runPlan(comm, false, async () => {
  const s = performance.now();
  await comm.allreduce(data, Op.SUM, { into });
  return performance.now() - s;
});
if (into[0] !== (size * (size + 1)) / 2) throw new Error(`allreduce: ${into[0]}, expected ${(size * (size + 1)) / 2}`);
if (rank === 0) {
  const s = summarize(a.slowest, a.iters);
  emit({ bench: 'allreduce', impl: 'fmi', channel, ranks: size, bytes: KiB, iters: a.iters, ...s, mb_s: Math.round((KiB / s.p50_us) * 1000) / 1000, variant });
}
await comm.close();
