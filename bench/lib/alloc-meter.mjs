// FMI_BENCH_ALLOC=1: what one round trip allocates, in the steady state.
//
// Node's ArrayBuffer allocator keeps a running total of the bytes held by
// ArrayBuffers, Buffers included, whoever allocated them (JS, or Node's C++
// for socket reads): process.memoryUsage().arrayBuffers. That total only goes
// down when the garbage collector frees buffers. So a window of N round trips
// started right after a full GC, with no GC inside it, grows the total by
// exactly what the window allocated: bytes / N is the allocation per round
// trip. (Typed arrays of up to 64 bytes live on V8's heap and are not
// counted; they cost no page faults either.) Windows that saw a GC (watched
// with a PerformanceObserver) are measured again. Next to it, the process's
// minor page faults per round trip (process.resourceUsage()): what fresh
// memory really costs on these VMs (~11 us per 4 KiB page). And, on Linux,
// this thread's CPU time and run-queue wait per round trip
// (/proc/thread-self/schedstat: time on a CPU, time runnable but waiting for
// one): a round trip's wall time is their sum plus the time it slept, so a
// size whose time swings from run to run says which of the three moved.

import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isOn } from './common.mjs';

export const ALLOC = isOn(process.env.FMI_BENCH_ALLOC);

let gc;
let gcs = [];
if (ALLOC) {
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc');
  new PerformanceObserver((list) => gcs.push(...list.getEntries().map((e) => e.startTime))).observe({ entryTypes: ['gc'] });
}

/** This thread's [CPU time, run-queue wait] so far in us, or undefined where there is no schedstat (not Linux). */
function sched() {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return [run / 1000, wait / 1000];
  } catch {
    return undefined;
  }
}

/** Window length: about 200 ms of round trips, 20..2000 of them. */
export function windowFor(perIterMs) {
  return Math.max(20, Math.min(2000, Math.round(200 / Math.max(perIterMs, 1e-3))));
}

/**
 * Runs `run(n)` (n round trips) in up to 3 windows until one sees no GC;
 * returns { bytes, faults, wallUs, cpuUs, runqUs } per round trip (the last two
 * undefined without schedstat) and whether a GC spoiled every window.
 * `agree(spoiled)`, where every rank meters together (a collective in `run`),
 * says whether any rank's window was spoiled, so all measure again or none
 * does: a rank that ran one window more than the others would call a
 * collective they never call.
 */
export async function meter(n, run, agree = async (spoiled) => spoiled) {
  let best;
  for (let attempt = 0; attempt < 3; attempt++) {
    gc();
    await new Promise((r) => setImmediate(r));
    gcs = [];
    const t0 = performance.now();
    const ab0 = process.memoryUsage().arrayBuffers;
    const pf0 = process.resourceUsage().minorPageFault;
    const s0 = sched();
    await run(n);
    const s1 = sched();
    const ab1 = process.memoryUsage().arrayBuffers;
    const pf1 = process.resourceUsage().minorPageFault;
    const t1 = performance.now();
    await new Promise((r) => setImmediate(r));
    const spoiled = gcs.some((t) => t >= t0 && t <= t1);
    const m = { bytes: Math.max(0, ab1 - ab0) / n, faults: (pf1 - pf0) / n, wallUs: ((t1 - t0) * 1000) / n, cpuUs: s0 && (s1[0] - s0[0]) / n, runqUs: s0 && (s1[1] - s0[1]) / n, spoiled };
    if (!(await agree(spoiled))) return m;
    best = m;
  }
  return best;
}

export function round1(x) {
  return Math.round(x * 10) / 10;
}
