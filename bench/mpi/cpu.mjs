// CPU time per MPI_Allreduce call, C path (bench/mpi/allreduce-cpu.c through
// fmi cc) against the TS API (bench/mpi/allreduce-n.mjs, with and without
// `into`): what a loaded machine cannot hide, where p50 latency (run.mjs)
// follows the load. Each job runs a fixed number of calls under `fmi run`;
// every rank takes its CPU (user + sys, process.cpuUsage) around the loop
// itself, so start-up and shutdown stay out, and rank 0 prints the sum over
// the ranks: the CPU one call costs the whole job (all ranks).
//   npm run build && node bench/mpi/cpu.mjs
// Environment: FMI_BENCH_SIZES (bytes, default 8,16384), FMI_BENCH_RANKS
// (default 2,4), FMI_BENCH_CALLS (calls per job, default 4000),
// FMI_BENCH_REPEAT (jobs per point, median taken; default 3).
// stdout: one JSON line per point; stderr: progress and a table.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cli = join(root, 'dist/cli/main.js');
const list = (v, d) => (v ? v.split(',').map(Number) : d);
const SIZES = list(process.env.FMI_BENCH_SIZES, [8, 16384]);
const RANKS = list(process.env.FMI_BENCH_RANKS, [2, 4]);
const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 4000);
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 3);
const log = (s) => process.stderr.write(`${s}\n`);

if (!existsSync(cli)) {
  log('bench/mpi/cpu: needs `npm run build`');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-cpu-'));
const rows = [];
try {
  const { ccCommand } = await import(join(root, 'dist/cli/cc.js'));
  const prog = join(dir, 'allreduce-cpu.js');
  if ((await ccCommand([join(root, 'bench/mpi/allreduce-cpu.c'), '-O2', '-o', prog], false)) !== 0) throw new Error('fmi cc failed');
  const ts = join(root, 'bench/mpi/allreduce-n.mjs');
  const IMPLS = {
    'fmi-cc': (bytes) => [prog, String(CALLS), String(bytes)],
    fmi: (bytes) => [ts, String(CALLS), String(bytes)],
    'fmi-into': (bytes) => [ts, String(CALLS), String(bytes), 'into'],
  };
  for (const ranks of RANKS) {
    for (const bytes of SIZES) {
      for (const [impl, args] of Object.entries(IMPLS)) {
        const m = median(Array.from({ length: REPEAT }, () => job(ranks, args(bytes))));
        const r = {
          impl, ranks, bytes,
          cpu_us_per_call: round(m.cpu / CALLS),
          wall_us_per_call: round(m.wall / CALLS),
          load1: round(loadavg()[0]),
        };
        rows.push(r);
        process.stdout.write(`${JSON.stringify(r)}\n`);
        log(`  ${impl.padEnd(9)} ${ranks} ranks ${String(bytes).padStart(7)} B: cpu ${r.cpu_us_per_call} us/call, wall ${r.wall_us_per_call} us/call (load ${r.load1})`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

log('\nCPU us per call, all ranks (fmi-cc / fmi, fmi-cc / fmi-into)');
for (const ranks of RANKS) {
  for (const bytes of SIZES) {
    const get = (i) => rows.find((r) => r.impl === i && r.ranks === ranks && r.bytes === bytes)?.cpu_us_per_call;
    const [c, f, fi] = ['fmi-cc', 'fmi', 'fmi-into'].map(get);
    log(`  ${ranks} ranks ${String(bytes).padStart(7)} B: ${c} ${f} ${fi}  ${(c / f).toFixed(2)} ${(c / fi).toFixed(2)}`);
  }
}

/** One `fmi run` job; the CPU of its loop summed over the ranks and the slowest rank's loop, us. */
function job(ranks, args) {
  const r = spawnSync(process.execPath, [cli, 'run', '-n', String(ranks), '--no-prefix', ...args], { cwd: root, encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"cpu_us"'));
  if (r.status !== 0 || !line) throw new Error(`job failed (${r.status}): ${args.join(' ')}\n${r.stderr}`);
  const { cpu_us, wall_us } = JSON.parse(line);
  return { cpu: cpu_us, wall: wall_us };
}

function median(xs) {
  const by = (k) => xs.map((x) => x[k]).sort((a, b) => a - b)[xs.length >> 1];
  return { cpu: by('cpu'), wall: by('wall') };
}

function round(x) {
  return Math.round(x * 10) / 10;
}
