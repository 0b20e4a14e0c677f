// 64 ranks as 64 processes against 16 processes x 4 worker-thread ranks
// (issue 13), both under `fmi run`: start-up (launch until every rank is
// through its first barrier, and the slowest rank's phases), barrier, and
// allreduce of 1 KiB (f64 SUM). Run after `npm run build`:
//   node bench/threads-scale.mjs
//
// stdout: the rank script's JSON lines (bench/threads-scale-rank.mjs), the
// layout ("64x1", "16x4") as variant:
//   {bench:'startup', variant, ranks, launch_to_barrier_ms, start_ms, import_ms, init_ms, barrier_ms}
//   {bench:'barrier'|'allreduce', impl:'fmi', channel, ranks, bytes, iters, p50_us, p99_us, mb_s, variant}
// plus one {bench:'launch', variant, ranks, wall_ms, cpu_ms} per run: the
// whole `fmi run` (wall time, and user+system CPU of it and all its ranks).
// stderr: a table for people, with the load average.
//
// Environment: BENCH_LAYOUTS (default "64x1,16x4": ranks x ranks-per-process;
// "64x64" is one process), BENCH_RUNS (default 1, alternating layouts),
// FMI_BENCH_QUICK=1, FMI_BENCH_MS (time per measured op, see bench/README.md).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const rankScript = fileURLToPath(new URL('./threads-scale-rank.mjs', import.meta.url));
const LAYOUTS = (process.env.BENCH_LAYOUTS ?? '64x1,16x4').split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`BENCH_LAYOUTS: ${s} is not PROCESSESxTHREADS (e.g. 16x4)`);
  return { name: s.trim(), processes: Number(m[1]), threads: Number(m[2]) };
});
const RUNS = Number(process.env.BENCH_RUNS ?? 1);

/**
 * CPU seconds (user + system) of this process's reaped children and their
 * reaped descendants (/proc/self/stat's cutime + cstime, in 1/100 s): the
 * launcher waits for its ranks, so after a run this counts all of them. null
 * off Linux.
 */
function childrenCpuMs() {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) * 10;
  } catch {
    return null;
  }
}

/** One `fmi run` of a layout: its result lines, its wall time and the CPU it and its ranks used. */
function launch(l) {
  const ranks = l.processes * l.threads;
  const threads = l.threads > 1 ? ['--threads', String(l.threads)] : [];
  return new Promise((resolve, reject) => {
    const c0 = childrenCpuMs();
    const t0 = Date.now();
    const p = spawn(process.execPath, [cli, 'run', '-n', String(ranks), ...threads, '--no-prefix', rankScript], {
      cwd: root,
      env: { ...process.env, FMI_BENCH_LAYOUT: l.name, FMI_BENCH_T0: String(t0) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const wall = Date.now() - t0;
      const c1 = childrenCpuMs();
      const rows = out.split('\n').filter((x) => x.startsWith('{')).map((x) => JSON.parse(x));
      if (code !== 0 || rows.length < 3) return reject(new Error(`fmi run -n ${ranks} ${threads.join(' ')} exited ${code} with ${rows.length} results`));
      resolve({ rows, wall_ms: wall, cpu_ms: c0 === null || c1 === null ? null : c1 - c0 });
    });
  });
}

const all = [];
for (let i = 0; i < RUNS; i++) {
  for (const l of LAYOUTS) {
    const r = await launch(l);
    for (const row of r.rows) process.stdout.write(JSON.stringify(row) + '\n');
    const summary = { bench: 'launch', variant: l.name, ranks: l.processes * l.threads, wall_ms: r.wall_ms, cpu_ms: r.cpu_ms };
    process.stdout.write(JSON.stringify(summary) + '\n');
    all.push({ layout: l.name, rows: r.rows, ...summary });
  }
}

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
process.stderr.write(`\nload average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; medians over ${RUNS} run${RUNS > 1 ? 's' : ''}\n`);
process.stderr.write('layout  ranks  launch->barrier ms  (import, init, barrier)  barrier p50 us  allreduce 1 KiB p50 us  CPU s\n');
for (const l of LAYOUTS) {
  const mine = all.filter((a) => a.layout === l.name);
  const pick = (bench, k) => med(mine.map((a) => a.rows.find((r) => r.bench === bench)[k]));
  process.stderr.write(
    `${l.name.padEnd(7)} ${String(l.processes * l.threads).padStart(5)}  ${String(pick('startup', 'launch_to_barrier_ms')).padStart(18)}  ` +
      `(${pick('startup', 'import_ms')}, ${pick('startup', 'init_ms')}, ${pick('startup', 'barrier_ms')})`.padEnd(24) +
      `${String(pick('barrier', 'p50_us')).padStart(15)}  ${String(pick('allreduce', 'p50_us')).padStart(22)}  ${(mine[0].cpu_ms === null ? '?' : (med(mine.map((a) => a.cpu_ms)) / 1000).toFixed(1)).padStart(5)}\n`,
  );
}
