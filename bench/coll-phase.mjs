// What a large collective costs a rank from its first call on, window by
// window: minor page faults and CPU per call, and the garbage collections
// that ran in the window. bench/run.mjs measures a short run (its p50 falls
// in the first few hundred calls), coll-alloc.mjs and coll-probe.mjs the
// steady state; this shows the phase in between. Not part of the driver; the
// numbers behind bench/README.md ("Large collectives at 1 MiB: where the time
// goes", "Without into, call by call").
//   node dist/cli/main.js run -n 4 --no-prefix bench/coll-phase.mjs
//   OP=bcast BYTES=1048576 INTO=1 node dist/cli/main.js run -n 4 --no-prefix bench/coll-phase.mjs
//
// Environment: OP=allreduce|bcast (default allreduce, Op.SUM over a
// Float64Array; bcast from rank 0), BYTES (default 1048576), INTO=1 (pass
// `{ into }`), WINDOWS (default 30), PER (calls per window, default 10).
// stdout: one line per rank: per window, faults per call, then the CPU per
// call in µs after a slash, then the GCs that ended in it in brackets
// (s scavenge, m mark-compact, i incremental marking, w weak callbacks).

import { PerformanceObserver } from 'node:perf_hooks';
import { init, Op } from 'fmi';

const OP = process.env.OP || 'allreduce';
if (!['allreduce', 'bcast'].includes(OP)) throw new Error(`OP: ${OP} is not allreduce or bcast`);
const BYTES = Number(process.env.BYTES || 1024 * 1024);
const INTO = process.env.INTO === '1';
const WINDOWS = Number(process.env.WINDOWS || 30);
const PER = Number(process.env.PER || 10);

const comm = await init();
const { rank } = comm;
const data = new Float64Array(BYTES / 8).fill(rank + 1);
const into = INTO ? new Float64Array(BYTES / 8) : undefined;
const call =
  OP === 'bcast'
    ? () => comm.bcast(rank === 0 ? data : undefined, 0, into ? { into } : {})
    : () => comm.allreduce(data, Op.SUM, into ? { into } : {});

// perf_hooks' gc kinds: 1 minor (scavenge), 2 major (mark-compact), 4 incremental marking, 8 weak callbacks.
const LETTER = { 1: 's', 2: 'm', 4: 'i', 8: 'w' };
let gcs = '';
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs += LETTER[e.detail?.kind] ?? '?';
});
obs.observe({ entryTypes: ['gc'] });

const windows = [];
let last;
for (let w = 0; w < WINDOWS; w++) {
  const r0 = process.resourceUsage();
  for (let i = 0; i < PER; i++) last = await call();
  const r1 = process.resourceUsage();
  // The observer runs as a task of its own: let it see the GCs of this window.
  await new Promise((resolve) => setImmediate(resolve));
  const faults = Math.round((r1.minorPageFault - r0.minorPageFault) / PER);
  const cpu = Math.round((r1.userCPUTime + r1.systemCPUTime - r0.userCPUTime - r0.systemCPUTime) / PER);
  windows.push(`${faults}/${cpu}${gcs ? `[${gcs}]` : ''}`);
  gcs = '';
}
obs.disconnect();
const want = OP === 'bcast' ? 1 : (comm.size * (comm.size + 1)) / 2;
if (last[0] !== want || last[last.length - 1] !== want) throw new Error(`${OP}: rank ${rank} got ${last[0]}, expected ${want}`);
console.log(`rank ${rank} ${OP} ${BYTES} B${INTO ? ' into' : ''}, per ${PER} calls (faults/µs CPU per call [GCs]): ${windows.join(' ')}`);
await comm.close();
