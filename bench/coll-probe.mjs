// What one collective call costs a rank, besides its wall time: CPU (user,
// system), minor page faults, and the promises and other async resources it
// creates. Not part of the driver; the numbers behind bench/README.md
// ("Where a small collective's time goes").
//   OP=allreduce BYTES=1024 N=2000 node dist/cli/main.js run -n 4 --no-prefix bench/coll-probe.mjs
//   OP=barrier node bench/profile.mjs -n 4 bench/coll-probe.mjs      (the same under --cpu-prof)
//
// Environment: OP=allreduce|barrier|bcast (default allreduce), BYTES (Float64Array
// size, default 1024), N (measured calls, default 2000, after 500 warm-up
// calls and a barrier), INTO=1 (pass { into }), SPIN=1 (keep the event loop
// busy with setImmediate while measuring, so a rank never sleeps in epoll:
// the experiment that shows Node cannot busy-poll as Open MPI does).
// stdout (rank 0): one line per rank.

import { init, Op } from 'fmi';
import { createHook } from 'node:async_hooks';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const comm = await init();
const { rank } = comm;
const OP = process.env.OP || 'allreduce';
const bytes = Number(process.env.BYTES || 1024);
const N = Number(process.env.N || 2000);
const data = new Float64Array(bytes / 8).fill(rank + 1);
const into = process.env.INTO === '1' ? { into: new Float64Array(bytes / 8) } : {};
const calls = {
  allreduce: () => comm.allreduce(data, Op.SUM, into),
  barrier: () => comm.barrier(),
  bcast: () => comm.bcast(rank === 0 ? data : undefined, 0, into),
};
const run = calls[OP];
if (!run) throw new Error(`OP must be one of ${Object.keys(calls).join(', ')}`);

for (let i = 0; i < 500; i++) await run();
await comm.barrier();

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let spinning = process.env.SPIN === '1';
const spin = () => {
  if (spinning) setImmediate(spin);
};
spin();
const f0 = process.resourceUsage().minorPageFault;
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) await run();
const wall = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const faults = process.resourceUsage().minorPageFault - f0;
spinning = false;
delay.disable();

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
for (let i = 0; i < 200; i++) await run();
hook.disable();

const line =
  `rank ${rank}: ${OP} ${bytes}B x${N}: wall ${((1000 * wall) / N).toFixed(1)} us/call, cpu user ${(cpu.user / N).toFixed(1)} sys ${(cpu.system / N).toFixed(1)} us/call, ` +
  `faults ${(faults / N).toFixed(1)}/call; per call: promises ${(promises / 200).toFixed(1)} timers ${(timers / 200).toFixed(2)} other ${(other / 200).toFixed(2)}; ` +
  `loop delay p50 ${(delay.percentile(50) / 1e3).toFixed(0)}us`;
const all = await comm.gather(line, 0);
if (rank === 0) console.log(all.join('\n'));
await comm.close();
