// What one collective call costs a rank, besides its wall time: CPU (user,
// system), minor page faults, and the promises and other async resources it
// creates. Not part of the driver; the numbers behind bench/README.md
// ("Where a small collective's time goes").
//   OP=allreduce BYTES=1024 N=2000 node dist/cli/main.js run -n 4 --no-prefix bench/coll-probe.mjs
//   OP=barrier node bench/profile.mjs -n 4 bench/coll-probe.mjs      (the same under --cpu-prof)
//
// Environment: OP=allreduce|barrier|bcast (default allreduce), BYTES (Float64Array
// size, default 1024), N (measured calls, default 2000, after 500 warm-up
// calls (WARMUP) and a barrier; HOOKED more calls count async resources), INTO=1 (pass { into }), SPIN=1 (keep the event loop
// busy with setImmediate while measuring, so a rank never sleeps in epoll:
// the experiment that shows Node cannot busy-poll as Open MPI does), DELAY=1
// (measure event-loop delay).
// stdout (rank 0): one line per rank (ALL=1 for more than 4 ranks), then one
// line of sums over the ranks (CPU and context switches per call).

import { init, Op } from 'fmi';
import { createHook } from 'node:async_hooks';
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

for (let i = 0; i < WARMUP; i++) await run();
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
await comm.close();
