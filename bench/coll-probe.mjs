// What one collective call costs a rank, besides its wall time: CPU (user,
// system), minor page faults, and the promises and other async resources it
// creates. Not part of the driver; the numbers behind bench/README.md
// ("Where a small collective's time goes").
//   OP=allreduce BYTES=1024 N=2000 node dist/cli/main.js run -n 4 --no-prefix bench/coll-probe.mjs
//   OP=barrier node bench/profile.mjs -n 4 bench/coll-probe.mjs      (the same under --cpu-prof)
//
// Environment: OP=allreduce|barrier|bcast (default allreduce), BYTES (Float64Array
// size, default 1024), N (measured calls, default 2000, after 500 warm-up
// calls (WARMUP) and a barrier; HOOKED more calls count async resources), INTO=1 (pass { into }),
// CURVE=k (the warm-up curve: CPU per call of all ranks over each k warm-up
// calls, split into the main thread's and the other threads' (V8's compile
// and GC threads), with their minor page faults, printed by rank 0), FMI_DIST (the dist/index.js of another
// build, for bench/jit-trace.mjs), MARKS=1 (write "[probe N calls]" to
// stdout at each CURVE window, "[probe warmed up]" after the warm-up and
// "[probe measured]" after the N calls, in
// order with V8's --trace-opt lines), SPIN=1 (keep the event loop
// busy with setImmediate while measuring, so a rank never sleeps in epoll:
// the experiment that shows Node cannot busy-poll as Open MPI does), DELAY=1
// (measure event-loop delay).
// stdout (rank 0): one line per rank (ALL=1 for more than 4 ranks), then one
// line of sums over the ranks (CPU and context switches per call).

const { init, Op } = await import(process.env.FMI_DIST || 'fmi');
import { createHook } from 'node:async_hooks';
import { readFileSync, writeSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const comm = await init();
const { rank } = comm;
const OP = process.env.OP || 'allreduce';
const bytes = Number(process.env.BYTES || 1024);
const N = Number(process.env.N || 2000);
const WARMUP = Number(process.env.WARMUP || 500);
const HOOKED = Number(process.env.HOOKED || 200);
const data = new Float64Array(bytes / 8).fill(rank + 1);
const into = process.env.INTO === '1' ? { into: new Float64Array(bytes / 8) } : {};
const calls = {
  allreduce: () => comm.allreduce(data, Op.SUM, into),
  barrier: () => comm.barrier(),
  bcast: () => comm.bcast(rank === 0 ? data : undefined, 0, into),
};
const run = calls[OP];
if (!run) throw new Error(`OP must be one of ${Object.keys(calls).join(', ')}`);

// The main thread's CPU in µs (schedstat: ns, where process.cpuUsage() counts all threads) and its minor page faults.
const mainCpu = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
const mainFaults = () => Number(readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ')[7]);
const CURVE = Number(process.env.CURVE || 0);
const curve = [];
let all0 = process.cpuUsage();
let main0 = mainCpu();
let faults0 = [mainFaults(), process.resourceUsage().minorPageFault];
for (let i = 0; i < WARMUP; i++) {
  await run();
  if (CURVE > 0 && (i + 1) % CURVE === 0) {
    const all = process.cpuUsage(all0);
    const main = mainCpu() - main0;
    const faults1 = [mainFaults(), process.resourceUsage().minorPageFault];
    curve.push(main / CURVE, (all.user + all.system - main) / CURVE, (faults1[0] - faults0[0]) / CURVE, (faults1[1] - faults1[0] - faults0[1] + faults0[0]) / CURVE);
    faults0 = faults1;
    if (process.env.MARKS === '1') writeSync(1, `[probe ${i + 1} calls]\n`);
    all0 = process.cpuUsage();
    main0 = mainCpu();
  }
}
if (process.env.MARKS === '1') writeSync(1, '[probe warmed up]\n');
await comm.barrier();

// DELAY=1: event-loop delay. Off by default: its 1 ms timer wakes every rank
// 1000 times a second, which on oversubscribed CPUs is most of what they do.
const delay = process.env.DELAY === '1' ? monitorEventLoopDelay({ resolution: 1 }) : undefined;
delay?.enable();
let spinning = process.env.SPIN === '1';
const spin = () => {
  if (spinning) setImmediate(spin);
};
spin();
const u0 = process.resourceUsage();
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) await run();
const wall = performance.now() - t0;
if (process.env.MARKS === '1') writeSync(1, '[probe measured]\n');
const cpu = process.cpuUsage(c0);
const u1 = process.resourceUsage();
const faults = u1.minorPageFault - u0.minorPageFault;
// Wake-ups: a rank that sleeps in epoll until a message comes switches out voluntarily; a preempted one involuntarily.
const vcsw = u1.voluntaryContextSwitches - u0.voluntaryContextSwitches;
const ivcsw = u1.involuntaryContextSwitches - u0.involuntaryContextSwitches;
spinning = false;
delay?.disable();

// Async resources per call, counted over 200 more calls (the hook itself slows them, so not timed).
let promises = 0;
let timers = 0;
let other = 0;
const hook = createHook({
  init(_id, type) {
    if (type === 'PROMISE') promises++;
    else if (type === 'Timeout') timers++;
    else other++;
  },
});
hook.enable();
for (let i = 0; i < HOOKED; i++) await run();
hook.disable();

const line =
  `rank ${rank}: ${OP} ${bytes}B x${N}: wall ${((1000 * wall) / N).toFixed(1)} us/call, cpu user ${(cpu.user / N).toFixed(1)} sys ${(cpu.system / N).toFixed(1)} us/call, ` +
  `faults ${(faults / N).toFixed(1)}/call, ctx switches ${(vcsw / N).toFixed(1)} voluntary ${(ivcsw / N).toFixed(1)} involuntary per call; per call: promises ${(promises / HOOKED).toFixed(1)} timers ${(timers / HOOKED).toFixed(2)} other ${(other / HOOKED).toFixed(2)}; ` +
  (delay ? `loop delay p50 ${(delay.percentile(50) / 1e3).toFixed(0)}us` : '');
const all = await comm.gather(line, 0);
const curves = curve.length > 0 ? await comm.reduce(new Float64Array(curve), Op.SUM, 0) : undefined;
const sums = await comm.reduce(new Float64Array([cpu.user / N, cpu.system / N, vcsw / N, ivcsw / N, (1000 * wall) / N]), Op.SUM, 0);
if (rank === 0) {
  if (comm.size <= 4 || process.env.ALL === '1') console.log(all.join('\n'));
  // Summed over ranks: with more ranks than CPUs, the CPU of a call is what the wall time is made of.
  const [user, sys, vol, invol, walls] = sums;
  console.log(
    `${comm.size} ranks: ${OP} ${bytes}B x${N}: wall ${(walls / comm.size).toFixed(1)} us/call (mean of ranks); all ranks together per call: ` +
      `cpu ${(user + sys).toFixed(0)} us (user ${user.toFixed(0)}, sys ${sys.toFixed(0)}), ctx switches ${vol.toFixed(1)} voluntary, ${invol.toFixed(1)} involuntary`,
  );
}
if (rank === 0 && curves) {
  const points = [];
  for (let k = 0; k < curves.length; k += 4) points.push(`${(k / 4 + 1) * CURVE} ${curves[k].toFixed(0)}+${curves[k + 1].toFixed(0)} (${curves[k + 2].toFixed(1)}+${curves[k + 3].toFixed(1)})`);
  console.log(`${comm.size} ranks: ${OP} ${bytes}B warm-up curve, calls done: CPU us per call of all ranks, main thread + other threads (page faults per call, the same): ${points.join(', ')}`);
}
await comm.close();
