// CPU time per MPI_Allreduce call, C path (bench/native/allreduce.c through
// fmi cc) against the TS API (bench/mpi/allreduce-n.mjs, with and without
// `into`): what a loaded machine cannot hide, where p50 latency (run.mjs)
// follows the load. Each job runs a fixed number of calls under `fmi run`;
// /usr/bin/time gives the CPU (user + sys) of the launcher and every rank,
// and the difference between a long and a short job, divided by the extra
// calls, is the CPU one call costs the whole job (all ranks).
//   npm run build && node bench/mpi/cpu.mjs
// Environment: FMI_BENCH_SIZES (bytes, default 8,16384), FMI_BENCH_RANKS
// (default 2,4), FMI_BENCH_CALLS (the long job, default 4000; the short one
// is a tenth), FMI_BENCH_REPEAT (jobs per point, median taken; default 3).
// stdout: one JSON line per point; stderr: progress and a table.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '../..');
const cli = join(root, 'dist/cli/main.js');
const list = (v, d) => (v ? v.split(',').map(Number) : d);
const SIZES = list(process.env.FMI_BENCH_SIZES, [8, 16384]);
const RANKS = list(process.env.FMI_BENCH_RANKS, [2, 4]);
const LONG = Number(process.env.FMI_BENCH_CALLS ?? 4000);
const SHORT = Math.max(1, Math.round(LONG / 10));
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 3);
const log = (s) => process.stderr.write(`${s}\n`);

if (!existsSync(cli) || !existsSync('/usr/bin/time')) {
  log('bench/mpi/cpu: needs `npm run build` and /usr/bin/time (apt-get install time)');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-cpu-'));
const rows = [];
try {
  const { ccCommand } = await import(join(root, 'dist/cli/cc.js'));
  const prog = join(dir, 'allreduce.js');
  if ((await ccCommand([join(root, 'bench/native/allreduce.c'), '-O2', '-lm', '-o', prog], false)) !== 0) throw new Error('fmi cc failed');
  const ts = join(root, 'bench/mpi/allreduce-n.mjs');
  const IMPLS = {
    'fmi-cc': (n, calls, bytes) => [prog, '1', '0', String(calls), String(calls), '1e9', String(bytes)],
    fmi: (n, calls, bytes) => [ts, String(calls), String(bytes)],
    'fmi-into': (n, calls, bytes) => [ts, String(calls), String(bytes), 'into'],
  };
  for (const ranks of RANKS) {
    for (const bytes of SIZES) {
      for (const [impl, args] of Object.entries(IMPLS)) {
        const at = (calls) => median(Array.from({ length: REPEAT }, () => job(ranks, args(ranks, calls, bytes))));
        const [long, short] = [at(LONG), at(SHORT)];
        const r = {
          impl, ranks, bytes,
          cpu_us_per_call: round((1e6 * (long.cpu - short.cpu)) / (LONG - SHORT)),
          wall_us_per_call: round((1e6 * (long.wall - short.wall)) / (LONG - SHORT)),
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

/** One `fmi run` job; its CPU (user + sys, every process) and wall seconds. */
function job(ranks, args) {
  const out = join(dir, 'time');
  const r = spawnSync('/usr/bin/time', ['-o', out, '-f', '%U %S %e', process.execPath, cli, 'run', '-n', String(ranks), '--no-prefix', ...args], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`job failed (${r.status}): ${args.join(' ')}\n${r.stderr}`);
  const [u, s, e] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { cpu: u + s, wall: e };
}

function median(xs) {
  const by = (k) => xs.map((x) => x[k]).sort((a, b) => a - b)[xs.length >> 1];
  return { cpu: by('cpu'), wall: by('wall') };
}

function round(x) {
  return Math.round(x * 10) / 10;
}
