// Collectives of 4 thread ranks in one process (the node arena, issue 13's
// two-level collectives) next to 4 processes over the direct channel and
// Open MPI over shared memory (vader), in one run:
//   npm run build && node bench/shm-coll.mjs
//   FMI_BENCH_BASE=/tmp/base5 node bench/shm-coll.mjs   # and the same fmi jobs on an earlier build
//
// Rows (impl):
//   fmi-threads    bench/{allreduce,bcast,barrier}.mjs under `fmi run -n 4 --threads` (with `into`)
//   fmi-procs      the same under `fmi run -n 4` (direct channel, loopback TCP)
//   fmi-threads-shared  bench/allreduce.mjs with FMI_BENCH_SHARED=1: data and
//                  `into` from sharedArray(), reduced in place in the arena
//   fmi-threads-c  bench/native/allreduce.c built with `fmi cc`, run by `fmi run -n 4 --threads`
//   openmpi-vader  bench/native/*.c built with mpicc, `mpirun --mca btl vader,self -np 4`
//   fmi-base-*     with FMI_BENCH_BASE: fmi-threads and fmi-threads-c on that build, each job
//                  next to this build's same job, the two in turn (who goes first alternates)
// Issue 13's goal: allreduce 1 MiB f64 on 4 thread ranks <= 0.5x Open MPI
// vader, the same program: fmi-threads-c / openmpi-vader, printed at the end.
//
// Environment: FMI_BENCH_QUICK, FMI_BENCH_MS (see bench/README.md);
// FMI_BENCH_SIZES (allreduce sizes, default 1k,64k,1m,4m); FMI_BENCH_RANKS
// (default 4); FMI_BENCH_NO_CC=1 skips the `fmi cc` rows (emcc is slow);
// FMI_BENCH_TIMEOUT_S=600 per run.
// stdout: the scripts' JSON lines, relabelled (impl, channel); stderr: a table.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachLine, fmtBytes, isOn, loadLine, PLAN } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const N = String(Number(process.env.FMI_BENCH_RANKS ?? 4));
const SIZES = process.env.FMI_BENCH_SIZES || '1k,64k,1m,4m';
const TIMEOUT_MS = Number(process.env.FMI_BENCH_TIMEOUT_S ?? 600) * 1000;
const results = [];

/** Runs a command; its JSON lines, relabelled, go to stdout and `results`. A failure is reported, not fatal. */
function job(title, cmd, args, env = {}, relabel = {}) {
  process.stderr.write(`== ${title} (load ${loadLine()})\n`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
    const done = eachLine(child.stdout, (line) => {
      if (!line.startsWith('{')) return;
      const r = { ...JSON.parse(line), ...relabel, load: loadLine() };
      results.push(r);
      process.stdout.write(JSON.stringify(r) + '\n');
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) process.stderr.write(`   ${title}: exited with ${code}\n`);
      void done.then(resolve);
    });
  });
}

/** The fmi jobs of one build: `benchDir` holds the bench scripts importing that build's fmi. Each job has a `kind` shared with the other build's. */
function fmiJobs(tag, fmiCli, benchDir, ccProgram) {
  const script = (name) => join(benchDir, `${name}.mjs`);
  const jobs = [];
  for (const [mode, extra] of [['threads', ['--threads']], ['procs', []]]) {
    if (tag !== 'fmi' && mode === 'procs') continue; // the processes' path is not what changed
    const impl = `${tag}-${mode}`;
    const run = (name, env) => jobs.push({ kind: `${mode} ${name}`, title: `${impl} ${name}`, args: [fmiCli, 'run', '-n', N, ...extra, '--no-prefix', script(name)], env: { FMI_BENCH_INTO: '1', ...env }, relabel: { impl, channel: mode === 'threads' ? 'shm' : 'direct' } });
    run('allreduce', { FMI_BENCH_SIZES: SIZES });
    if (tag === 'fmi' && mode === 'threads') {
      jobs.push({ kind: 'threads-shared allreduce', title: `${impl}-shared allreduce`, args: [fmiCli, 'run', '-n', N, ...extra, '--no-prefix', script('allreduce')], env: { FMI_BENCH_INTO: '1', FMI_BENCH_SHARED: '1', FMI_BENCH_SIZES: SIZES }, relabel: { impl: `${impl}-shared`, channel: 'shm' } });
    }
    run('bcast', { FMI_BENCH_SIZES: '1m' });
    run('barrier', {});
  }
  if (ccProgram) {
    jobs.push({ kind: 'threads-c allreduce', title: `${tag}-threads-c allreduce`, args: [fmiCli, 'run', '-n', N, '--threads', '--no-prefix', ccProgram, ...planArgs()], env: {}, relabel: { impl: `${tag}-threads-c`, channel: 'shm' } });
  }
  return jobs;
}

/**
 * Runs this build's jobs, each next to the same kind of job of the earlier
 * build, the two in turn: this build first in the 1st, 3rd... pair, the
 * earlier one first in the others, so that neither always runs right
 * after a heavy job (the order showed up as a gap between the builds).
 */
async function runAlternated(mine, theirs) {
  let pairs = 0;
  for (const j of mine) {
    const twin = theirs.find((t) => t.kind === j.kind);
    const order = !twin ? [j] : pairs++ % 2 === 0 ? [j, twin] : [twin, j];
    for (const x of order) await job(x.title, process.execPath, x.args, x.env, x.relabel);
  }
}

/** coll-plan.h's arguments (bench/run.mjs's plan), then the sizes: `sizes` or the allreduce sizes. */
function planArgs(sizes = SIZES) {
  const plan = [PLAN.targetMs, PLAN.warmupMs, PLAN.minIters, PLAN.maxIters, PLAN.capMs].map(String);
  return [...plan, ...sizes.split(',').map((s) => String(parseSize(s)))];
}

function parseSize(s) {
  const m = /^(\d+)([km]?)$/i.exec(s.trim());
  if (!m) throw new Error(`FMI_BENCH_SIZES: bad size ${s}`);
  return Number(m[1]) * (m[2].toLowerCase() === 'k' ? 1024 : m[2].toLowerCase() === 'm' ? 1024 * 1024 : 1);
}

function compile(tool, args, what) {
  const r = spawnSync(tool, args, { cwd: root, encoding: 'utf8', env: process.env });
  if (r.status !== 0 || r.error) {
    process.stderr.write(`SKIP ${what}: ${tool} failed: ${r.error?.message ?? r.stderr}\n`);
    return false;
  }
  return true;
}

const tmp = mkdtempSync(join(tmpdir(), 'fmi-shm-coll-'));
try {
  process.stderr.write(`shm-coll: ${N} ranks, load ${loadLine()}\n`);
  const noCc = isOn(process.env.FMI_BENCH_NO_CC);
  const cc = !noCc && compile(process.execPath, [cli, 'cc', join(here, 'native', 'allreduce.c'), '-O2', '-lm', '-o', join(tmp, 'allreduce.js')], 'fmi-threads-c (fmi cc)') ? join(tmp, 'allreduce.js') : undefined;
  const base = process.env.FMI_BENCH_BASE;
  let theirs = [];
  if (base) {
    if (!['dist/cli/main.js', 'build/kernels.wasm'].every((f) => existsSync(join(base, f)))) throw new Error(`FMI_BENCH_BASE=${base}: not built`);
    // This tree's scripts, copied there so that their `import 'fmi'` is that build.
    const bench = join(base, '.bench-shm-coll');
    rmSync(bench, { recursive: true, force: true });
    cpSync(here, bench, { recursive: true });
    // The same program, built by that build's `fmi cc` (its MPI library).
    const baseCc = cc && compile(process.execPath, [join(base, 'dist/cli/main.js'), 'cc', join(here, 'native', 'allreduce.c'), '-O2', '-lm', '-o', join(tmp, 'allreduce-base.js')], 'fmi-base-threads-c') ? join(tmp, 'allreduce-base.js') : undefined;
    theirs = fmiJobs('fmi-base', join(base, 'dist/cli/main.js'), bench, baseCc);
  }
  await runAlternated(fmiJobs('fmi', cli, here, cc), theirs);

  if (compile('mpicc', ['--version'], 'openmpi-vader rows')) {
    for (const name of ['allreduce', 'bcast', 'barrier']) {
      const exe = join(tmp, `mpi-${name}`);
      if (!compile('mpicc', ['-O2', '-o', exe, join(here, 'native', `${name}.c`), '-lm'], `openmpi-vader ${name}`)) continue;
      const args = planArgs(name === 'allreduce' ? SIZES : name === 'bcast' ? '1m' : '0');
      await job(`openmpi-vader ${name}`, 'mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', N, '--mca', 'pml', 'ob1', '--mca', 'btl', 'vader,self', exe, ...args], {}, { impl: 'openmpi-vader', channel: 'vader' });
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

// The table: p50 per benchmark and size, one column per impl.
const impls = [...new Set(results.map((r) => r.impl))];
const keys = [...new Set(results.map((r) => `${r.bench} ${r.bytes}`))];
const at = (impl, key) => results.find((r) => r.impl === impl && `${r.bench} ${r.bytes}` === key);
process.stderr.write(`\np50 us, ${N} ranks (load now ${loadLine()})\n${'bench'.padEnd(18)}${impls.map((i) => i.padStart(20)).join('')}\n`);
for (const key of keys) {
  const [bench, bytes] = key.split(' ');
  const label = `${bench} ${bench === 'barrier' ? '' : fmtBytes(Number(bytes))}`;
  process.stderr.write(`${label.padEnd(18)}${impls.map((i) => (at(i, key) ? at(i, key).p50_us.toFixed(1) : '-').padStart(20)).join('')}\n`);
}
const goal = (impl) => {
  const f = at(impl, `allreduce ${1024 * 1024}`);
  const o = at('openmpi-vader', `allreduce ${1024 * 1024}`);
  return f && o ? `${(f.p50_us / o.p50_us).toFixed(2)}x (${f.p50_us.toFixed(0)} us against ${o.p50_us.toFixed(0)} us)` : 'not measured';
};
process.stderr.write(`goal allreduce 1 MiB <= 0.5x Open MPI vader: the C program ${goal('fmi-threads-c')}; bench/allreduce.mjs ${goal('fmi-threads')}, with shared arrays ${goal('fmi-threads-shared')}\n`);
if (process.env.FMI_BENCH_BASE) process.stderr.write(`before (FMI_BENCH_BASE): the C program ${goal('fmi-base-threads-c')}; bench/allreduce.mjs ${goal('fmi-base-threads')}\n`);
