// How the cost of a small collective falls as a job warms up, on many ranks
// (issue 11: 16 and 32 ranks oversubscribed on 2 vCPUs). Every rank runs
// BLOCKS blocks of CALLS calls back to back, nothing between them, and
// counts per block its CPU (user + system, every thread: V8's compiler
// threads included), its voluntary context switches (wake-ups) and its
// involuntary ones (preemptions). Rank 0 prints per block the sums over the
// ranks per call, its own wall time per call and the job's time so far: the
// curve the driver's warm-up (FMI_BENCH_WARMUP_MS) cuts at one point.
//   OP=allreduce BYTES=1024 node dist/cli/main.js run -n 16 --no-prefix bench/coll-scale.mjs
//   OP=barrier CALLS=200 BLOCKS=30 node dist/cli/main.js run -n 32 --no-prefix bench/coll-scale.mjs
// The same blocks for Open MPI: bench/native/coll-scale.c (its header says
// how); for the bare sockets: bench/raw-coll.mjs's stderr line.
// V8_FLAGS (a diagnostic, not for figures): V8 flags set at start, e.g.
// V8_FLAGS=--interrupt-budget=16896 (a quarter of Node 20's: V8 optimizes a
// function after so many bytes of its bytecode ran, so after a count of calls).
// stdout (rank 0): a header line, then per block: block, calls so far,
// seconds since the first call, wall µs per call, CPU µs per call of all
// ranks, voluntary and involuntary switches per call of all ranks, and rank
// 0's own CPU per call (the star's centre: its work is serial).

import { setFlagsFromString } from 'node:v8';

if (process.env.V8_FLAGS) setFlagsFromString(process.env.V8_FLAGS);
const { init, Op } = await import('fmi');

const comm = await init();
const { rank, size } = comm;
const OP = process.env.OP || 'allreduce';
const bytes = Number(process.env.BYTES || 1024);
const CALLS = Number(process.env.CALLS || 200);
const BLOCKS = Number(process.env.BLOCKS || 20);
const data = new Float64Array(Math.max(1, bytes / 8)).fill(rank + 1);
const calls = {
  allreduce: () => comm.allreduce(data, Op.SUM),
  barrier: () => comm.barrier(),
};
const run = calls[OP];
if (!run) throw new Error(`OP must be one of ${Object.keys(calls).join(', ')}`);

// Per block: cpu µs, voluntary, involuntary, then rank 0's: wall µs, seconds since start, its own cpu µs.
const W = 6;
const per = new Float64Array(W * BLOCKS);
await comm.barrier();
const start = performance.now();
for (let b = 0; b < BLOCKS; b++) {
  const u0 = process.resourceUsage();
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) await run();
  const t1 = performance.now();
  const u1 = process.resourceUsage();
  const cpu = u1.userCPUTime + u1.systemCPUTime - u0.userCPUTime - u0.systemCPUTime;
  per[W * b] = cpu;
  per[W * b + 1] = u1.voluntaryContextSwitches - u0.voluntaryContextSwitches;
  per[W * b + 2] = u1.involuntaryContextSwitches - u0.involuntaryContextSwitches;
  if (rank === 0) per.set([1000 * (t1 - t0), (t1 - start) / 1000, cpu], W * b + 3);
}
const sums = await comm.reduce(per, Op.SUM, 0);
if (rank === 0) {
  console.log(`${OP} ${OP === 'barrier' ? '' : `${bytes} B `}on ${size} ranks, blocks of ${CALLS} calls; per call: wall (rank 0), CPU and context switches summed over the ranks`);
  console.log('block\tcalls\ts\twall_us\tcpu_us\tvol\tinvol\troot_cpu_us');
  for (let b = 0; b < BLOCKS; b++) {
    const [cpu, vol, invol, wall, at, root] = sums.subarray(W * b, W * b + W);
    console.log([b + 1, (b + 1) * CALLS, at.toFixed(2), (wall / CALLS).toFixed(0), (cpu / CALLS).toFixed(0), (vol / CALLS).toFixed(1), (invol / CALLS).toFixed(1), (root / CALLS).toFixed(0)].join('\t'));
  }
}
await comm.close();
