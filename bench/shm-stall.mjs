// Why a round trip of two thread ranks stalled: each slow round trip split,
// on both ranks, into time on a CPU, time runnable but waiting for one, and
// time asleep (the rest), from each thread's /proc/thread-self/schedstat.
//   node dist/cli/main.js run -n 2 --threads --no-prefix bench/shm-stall.mjs
//
// A lost wake-up sleeps both ranks at once (each waits for the other) until
// some timer rescues them; a loaded machine leaves one or both runnable
// instead (the run-queue column grows). Rank 0 sends, rank 1 echoes, N
// round trips of FMI_BENCH_SIZES (one size, default 4m); the first round
// trip (fresh staging pages) is left out. A rank's round trip starts where
// its own loop turn does, so the two ranks' rows overlap, not coincide.
// Environment: N (default 400), FMI_BENCH_SIZES, FMI_BENCH_STALL_MS (what
// counts as slow, default 40).
// stdout (rank 0): one JSON line {bench:"shm-stall", bytes, n, slow,
// both_asleep (slow round trips where each rank slept >= half of it),
// stalls: [[i, wall, cpu, runq] of rank 0, [...] of rank 1] in ms}; stderr:
// a table of the slow round trips.

import { readFileSync } from 'node:fs';
import { init } from 'fmi';
import { sizesFrom } from './lib/common.mjs';

const comm = await init();
if (comm.size !== 2) throw new Error(`shm-stall: needs exactly 2 ranks, got ${comm.size}`);
const N = Number(process.env.N ?? 400);
const SLOW_MS = Number(process.env.FMI_BENCH_STALL_MS ?? 40);
const bytes = sizesFrom([4 * 1024 * 1024])[0];
const buf = new Uint8Array(bytes);
const into = new Uint8Array(bytes);
/** Per round trip: wall, CPU, run-queue wait (ms). */
const rec = new Float64Array(N * 3);

/** This thread's [time on a CPU, time runnable] so far, in ms. */
function sched() {
  const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  return [run / 1e6, wait / 1e6];
}

for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  const s0 = sched();
  if (comm.rank === 0) {
    await comm.send(buf, 1, { tag: 2 });
    await comm.recv(1, { tag: 2, into });
  } else {
    await comm.recv(0, { tag: 2, into });
    await comm.send(into, 0, { tag: 2 });
  }
  const s1 = sched();
  rec[3 * i] = performance.now() - t0;
  rec[3 * i + 1] = s1[0] - s0[0];
  rec[3 * i + 2] = s1[1] - s0[1];
}

if (comm.rank === 1) await comm.send(rec, 0, { tag: 3 });
else {
  const peer = await comm.recv(1, { tag: 3, into: new Float64Array(N * 3) });
  const row = (a, i) => [a[3 * i], a[3 * i + 1], a[3 * i + 2]].map((x) => Math.round(x * 10) / 10);
  const asleep = (a, i) => a[3 * i] - a[3 * i + 1] - a[3 * i + 2];
  const stalls = [];
  let both = 0;
  process.stderr.write(`round trips of ${bytes} B slower than ${SLOW_MS} ms: wall / on a CPU / runnable (ms), asleep is the rest\n`);
  for (let i = 1; i < N; i++) {
    if (rec[3 * i] < SLOW_MS && peer[3 * i] < SLOW_MS) continue;
    const [a, b] = [row(rec, i), row(peer, i)];
    stalls.push([i, a, b]);
    const slept = asleep(rec, i) >= rec[3 * i] / 2 && asleep(peer, i) >= peer[3 * i] / 2;
    if (slept) both++;
    process.stderr.write(`  ${String(i).padStart(4)}  rank 0 ${a.join(' / ')}  rank 1 ${b.join(' / ')}${slept ? '  both asleep' : ''}\n`);
  }
  process.stdout.write(JSON.stringify({ bench: 'shm-stall', bytes, n: N, slow: stalls.length, both_asleep: both, stalls }) + '\n');
}
await comm.close();
