// What wakes a waiting JavaScript thread fastest: ping-pong of one word
// between two worker threads, each way by one mechanism (issue 13).
//   node bench/shm-wake.mjs
//
// Mechanisms:
//   wait       Atomics.wait (the thread blocks in a futex; its event loop stops)
//   wait@MS    Atomics.wait with a timeout of MS ms (e.g. wait@0.2): one shorter
//              than the kernel's tick arms a timer per wait (FMI_BENCH_WAKE=wait@0.2)
//   waitAsync  Atomics.waitAsync (the promise resolves through the event loop)
//   port       MessagePort.postMessage (the event loop, a libuv async handle)
//   spin       polls Atomics.load (a core each, busy)
//   spin+wait  polls up to FMI_BENCH_SPIN_US (default 5) then Atomics.wait
//   wait+js    Atomics.wait, and FMI_BENCH_JS_US (default 3) of busy work
//              after each notify, before the wait: where fmi's receive posts
//              itself and its drive runs. The same p50 as `wait` means the
//              work overlaps the peer's wake-up; `wait` plus the work means
//              the woken peer waited for this thread's core
//   js+wait    the same work before each notify (where fmi takes the message
//              in and resolves the receive): adds to the half round trip
//   futex-c    the same ping-pong between two C threads on a raw futex
//              (bench/native/futex-pingpong.c, built with `cc`): the floor
//              of a wake-up without polling on this machine, no V8 in it
//   spin-c     the same C threads polling the word (no futex): the floor of
//              a spinning ping-pong, beside `spin` (V8's Atomics.load)
// For each: half round trip p50 / p99 in us, the process CPU time per
// round trip (both threads), so a spin's cost shows, and how long the
// pinger's own Atomics.notify call takes (p50, notify_us: where the peer
// sleeps, a futex wake or an event loop's eventfd write, a system call; on
// a VM that traps system calls, it is a large part of the wake-up). FMI_BENCH_ROUNDS sets
// the round trips (default 20000); FMI_BENCH_PAIRS=2 runs that many pairs at
// once (4 threads on 2 cores: what oversubscription does to each).
// stdout: one JSON line per mechanism; stderr: a table.

import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROUNDS = Number(process.env.FMI_BENCH_ROUNDS ?? 20000);
const SPIN_US = Number(process.env.FMI_BENCH_SPIN_US ?? 5);
const JS_US = Number(process.env.FMI_BENCH_JS_US ?? 3);
const PAIRS = Number(process.env.FMI_BENCH_PAIRS ?? 1);
const MECHANISMS = (process.env.FMI_BENCH_WAKE ?? 'wait,waitAsync,port,spin,spin+wait,futex-c,spin-c').split(',');

if (isMainThread) await main();
else await side(workerData);

async function main() {
  process.stderr.write(`shm-wake: ${process.version}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${PAIRS} pair(s), ${ROUNDS} round trips\n`);
  process.stderr.write(`${'mechanism'.padEnd(10)} ${'p50 us'.padStart(8)} ${'p99 us'.padStart(8)} ${'cpu us/rt'.padStart(10)} ${'notify us'.padStart(10)}\n`);
  for (const mech of MECHANISMS) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: PAIRS }, () => (mech.endsWith('-c') ? native(mech) : pair(mech))));
    const notifies = results.flatMap((r) => r.notify).sort((a, b) => a - b);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const samples = results.flatMap((r) => r.samples).sort((a, b) => a - b);
    const pct = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
    const r = {
      bench: 'shm-wake',
      mechanism: mech,
      pairs: PAIRS,
      rounds: ROUNDS,
      p50_us: +(pct(0.5) * 500).toFixed(2),
      p99_us: +(pct(0.99) * 500).toFixed(2),
      cpu_us_per_rt: +(mech.endsWith('-c') ? results[0].cpu : (cpu.user + cpu.system) / (ROUNDS * PAIRS)).toFixed(2),
      notify_us: mech === 'port' ? undefined : +(notifies[notifies.length >> 1] * 1000).toFixed(2),
      wall_ms: Math.round(wall),
      node: process.version,
    };
    process.stdout.write(JSON.stringify(r) + '\n');
    process.stderr.write(`${mech.padEnd(10)} ${r.p50_us.toFixed(2).padStart(8)} ${r.p99_us.toFixed(2).padStart(8)} ${r.cpu_us_per_rt.toFixed(2).padStart(10)} ${(r.notify_us?.toFixed(2) ?? '-').padStart(10)}\n`);
  }
}

/**
 * The C floor (futex-c, spin-c): one pair of threads in a process of its own, which prints its
 * own percentiles (half round trip, µs) and CPU. Returned in pair()'s units
 * (ms per round trip) so the table treats it alike; one pair whatever PAIRS.
 */
async function native(mech) {
  if (mech !== 'futex-c' && mech !== 'spin-c') throw new Error(`shm-wake: unknown mechanism ${mech}`);
  const dir = mkdtempSync(join(tmpdir(), 'fmi-futex-'));
  try {
    const exe = join(dir, 'futex-pingpong');
    const src = new URL('./native/futex-pingpong.c', import.meta.url).pathname;
    execFileSync('cc', ['-O2', '-pthread', '-o', exe, src]);
    const [p50, p99, cpu, notify] = execFileSync(exe, [String(ROUNDS), ...(mech === 'spin-c' ? ['spin'] : [])], { encoding: 'utf8' }).trim().split(' ').map(Number);
    // Samples whose p50 and p99 (as main() picks them) are the C program's own.
    return { samples: [p50, p50, p99].map((us) => (us * 2) / 1000), notify: [notify / 1000], cpu };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Two threads: the pinger collects one sample per round trip (ms). */
function pair(mech) {
  const sab = new SharedArrayBuffer(256);
  const { port1, port2 } = new MessageChannel();
  const url = new URL(import.meta.url);
  const ping = new Worker(url, { workerData: { mech, sab, port: port1, role: 'ping' }, transferList: [port1] });
  const pong = new Worker(url, { workerData: { mech, sab, port: port2, role: 'pong' }, transferList: [port2] });
  return new Promise((resolve, reject) => {
    ping.once('message', ({ samples, notify }) => resolve({ samples: Array.from(samples), notify: Array.from(notify) }));
    ping.once('error', reject);
    pong.once('error', reject);
  });
}

async function side({ mech, sab, port, role }) {
  const a = new Int32Array(sab);
  // Word 0: ping's counter (pong waits on it); word 16: pong's (a cache line away).
  const [mine, theirs] = role === 'ping' ? [0, 16] : [16, 0];
  const samples = new Float64Array(ROUNDS);
  const notify = new Float64Array(ROUNDS);
  const warm = Math.min(2000, ROUNDS);
  const total = ROUNDS + warm;
  const post = (v) => {
    if (mech === 'port') port.postMessage(v);
    else {
      Atomics.store(a, mine, v);
      const t0 = performance.now();
      Atomics.notify(a, mine);
      return performance.now() - t0;
    }
  };
  const spinUntil = (v, us) => {
    const end = performance.now() + us / 1000;
    while (Atomics.load(a, theirs) !== v) if (us !== Infinity && performance.now() > end) return false;
    return true;
  };
  // A pending waitAsync does not keep a thread alive: this does, for the run.
  const alive = setInterval(() => {}, 1 << 30);
  let portNext;
  if (mech === 'port') port.on('message', (v) => portNext?.(v));
  const waitFor = async (v) => {
    switch (mech) {
      case 'wait':
        while (Atomics.load(a, theirs) !== v) Atomics.wait(a, theirs, v - 1);
        return;
      case 'waitAsync':
        while (Atomics.load(a, theirs) !== v) {
          const w = Atomics.waitAsync(a, theirs, v - 1);
          if (w.async) await w.value;
        }
        return;
      case 'port':
        await new Promise((res) => (portNext = res));
        return;
      case 'spin':
        spinUntil(v, Infinity);
        return;
      default: {
        // wait@MS: the blocking wait with a timeout (the shm channel's bounded block)
        const ms = Number(mech.slice('wait@'.length));
        if (!mech.startsWith('wait@') || !(ms >= 0)) throw new Error(`shm-wake: unknown mechanism ${mech}`);
        while (Atomics.load(a, theirs) !== v) Atomics.wait(a, theirs, v - 1, ms);
        return;
      }
      case 'spin+wait':
        if (spinUntil(v, SPIN_US)) return;
        while (Atomics.load(a, theirs) !== v) Atomics.wait(a, theirs, v - 1);
        return;
    }
  };
  const work = () => {
    const end = performance.now() + JS_US / 1000;
    while (performance.now() < end);
  };
  const [before, after] = [mech === 'js+wait', mech === 'wait+js'];
  if (before || after) mech = 'wait';
  for (let i = 1; i <= total; i++) {
    if (role === 'ping') {
      const t0 = performance.now();
      if (before) work();
      const n = post(i);
      if (after) work();
      await waitFor(i);
      if (i > warm) {
        samples[i - warm - 1] = performance.now() - t0;
        notify[i - warm - 1] = n ?? 0;
      }
    } else {
      await waitFor(i);
      if (before) work();
      post(i);
      if (after) work();
    }
  }
  if (role === 'ping') parentPort.postMessage({ samples, notify });
  clearInterval(alive);
  port.close();
}
