// The communication benchmark driver: fmi next to its baselines.
//   npm run build      (once; this driver builds nothing)
//   npm run bench      (= node bench/run.mjs)
//
// Runs bench/pingpong.mjs (fmi, 2 ranks), bench/raw-pingpong.mjs (bare Node
// sockets), bench/allreduce.mjs (fmi, 2 and 4 ranks), bench/raw-coll.mjs
// (allreduce up to 16 KiB and barrier over bare Node sockets) and the Open MPI
// programs in bench/native/ (compiled here with mpicc -O2 into a temporary
// directory, run over TCP). stdout: one JSON line per result; stderr:
// progress, then tables with the fmi/raw and fmi/openmpi ratios.
// On request (not by default):
//   channels         bench/channels.mjs: bcast and allreduce over direct,
//                    Redis and S3 (starts and stops its own servers)
//   allreduce-algos  allreduce on 4 ranks, 256 KiB/1/4/16 MiB: fmi's ring,
//                    Rabenseifner and recursive doubling, each with and without `into`, next
//                    to Open MPI; the jobs of one size run one after another
//   bcast, barrier   bench/bcast.mjs (root 0, 1 KiB..4 MiB) and
//                    bench/barrier.mjs next to native/bcast.c and
//                    native/barrier.c, on 4 ranks (FMI_BENCH_RANKS: 16, 32…)
//
// Environment (see bench/README.md):
//   FMI_BENCH=pingpong,allreduce           which benchmarks (default these two;
//                                          also channels, allreduce-algos)
//   FMI_BENCH_IMPL=fmi,raw-socket,c-socket,openmpi-tcp   which implementations (default all;
//                                          c-socket: ping-pong only, C over one blocking TCP socket)
//   FMI_BENCH_RANKS=2,4                    allreduce rank counts (allreduce-algos, bcast, barrier: 4)
//   FMI_BENCH_ROUNDS=3                     allreduce-algos: rounds per size (quick: 1)
//   FMI_BENCH_QUICK=1                      smoke run (~50 ms per size)
//   FMI_BENCH_MS, FMI_BENCH_SIZES          passed on to every benchmark
//   FMI_BENCH_TIMEOUT_S=300                give up on one run after this long
//   FMI_BENCH_BASE=DIR                     also run every fmi job on the fmi checkout in DIR
//                                          (built; an earlier commit): rows 'fmi-base', column fmi/base
//   FMI_BENCH_AWAKE=1                      keep every CPU awake with nice-19 spinners during each run
//   FMI_BENCH_POLL_US=N                    also run every fmi job with FMI_DIRECT_POLL_US=N (rows 'fmi-poll')
//                                          and the raw collectives polling alike (rows 'raw-poll')
//
// Charts (bench/report/): --report DIR also writes an SVG per figure and
// DIR/index.html; with --from results.jsonl (a saved stdout of this driver)
// it charts those results and runs nothing.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BCAST_SIZES } from './lib/plan.mjs';
import { ALLREDUCE_SIZES, KiB, MiB, PINGPONG_SIZES, PLAN, QUICK, WARMUP_MODE, eachLine, fmtBytes, isOn, loadLine, sizesFrom } from './lib/common.mjs';
import { channelsTables } from './lib/channels-table.mjs';
import { parseArgs } from 'node:util';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const list = (v, d) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : d);
const BENCHES = list(process.env.FMI_BENCH, ['pingpong', 'allreduce']);
const IMPL_NAMES = ['fmi', 'raw-socket', 'c-socket', 'openmpi-tcp'];
const IMPLS = list(process.env.FMI_BENCH_IMPL, IMPL_NAMES);
const RANKS = list(process.env.FMI_BENCH_RANKS, ['2', '4']).map(Number);
/** allreduce-algos: 4 ranks unless FMI_BENCH_RANKS says otherwise. */
const ALGO_RANKS = list(process.env.FMI_BENCH_RANKS, ['4']).map(Number);
/** bcast and barrier: 4 ranks unless FMI_BENCH_RANKS says otherwise. */
const COLL_RANKS = ALGO_RANKS;
const ALGO_SIZES = [256 * KiB, MiB, 4 * MiB, 16 * MiB];
const ALGO_ROUNDS = Number(process.env.FMI_BENCH_ROUNDS ?? (QUICK ? 1 : 3));
/** The fmi variants of allreduce-algos: [label, FMI_BENCH_ALGO, FMI_BENCH_INTO]. */
const ALGO_VARIANTS = [
  ['ring', 'ring', ''],
  ['rab', 'rabenseifner', ''],
  ['rd', 'recursive-doubling', ''],
  ['ring+into', 'ring', '1'],
  ['rab+into', 'rabenseifner', '1'],
  ['rd+into', 'recursive-doubling', '1'],
];
/** bench/raw-coll.mjs runs allreduce sizes up to this (fmi's star, TREE_MAX_BYTES). */
const RAW_COLL_MAX_BYTES = 16 * KiB;
/** The raw-socket row with fmi's own message pattern (the others are other patterns, see raw-coll.mjs). */
const RAW_AS_FMI = { pingpong: 'u8', allreduce: 'f64,sum', barrier: 'star' };
const TIMEOUT_MS = Number(process.env.FMI_BENCH_TIMEOUT_S ?? 300) * 1000;
const AWAKE = isOn(process.env.FMI_BENCH_AWAKE);
const POLL_US = process.env.FMI_BENCH_POLL_US || undefined;
const MPIRUN_FLAGS = ['--allow-run-as-root', '--oversubscribe', '--mca', 'pml', 'ob1', '--mca', 'btl', 'tcp,self'];

const log = (s) => process.stderr.write(s + '\n');
const ARGS = parseArgs({ options: { report: { type: 'string' }, from: { type: 'string' } }, strict: true }).values;
if (ARGS.from !== undefined && ARGS.report === undefined) fail('--from needs --report DIR');
if (ARGS.from !== undefined) {
  const { readResults } = await import('./report/render.mjs');
  const saved = readResults(ARGS.from);
  await report(saved, [`Results from ${ARGS.from}.`]);
  process.exit(0);
}

const ALL_BENCHES = ['pingpong', 'allreduce', 'channels', 'allreduce-algos', 'bcast', 'barrier'];
for (const b of BENCHES) if (!ALL_BENCHES.includes(b)) fail(`FMI_BENCH: unknown benchmark ${b} (${ALL_BENCHES.join(', ')})`);
for (const i of IMPLS) if (!IMPL_NAMES.includes(i)) fail(`FMI_BENCH_IMPL: unknown implementation ${i} (${IMPL_NAMES.join(', ')})`);

const missing = ['dist/index.js', 'dist/cli/main.js', 'build/kernels.wasm'].filter((f) => !existsSync(join(root, f)));
if (IMPLS.includes('fmi') && missing.length > 0) fail(`${missing.join(', ')} missing: run \`npm run build\` first (this driver builds nothing)`);

const results = [];
const problems = [];
const jobs = [];
const builtAt = newestBuild();
let lastBuild = builtAt;
const loadBefore = loadLine();
const started = performance.now();
log(`fmi bench: ${cpus().length} CPUs, load average (1/5/15 min) ${loadBefore}${QUICK ? ', QUICK mode' : ''}`);
if (IMPLS.includes('fmi')) log(`fmi build: ${gitHead()}, newest file in dist/ and build/ from ${new Date(builtAt).toISOString()}`);
if (AWAKE) log('FMI_BENCH_AWAKE: one nice-19 spinner per CPU during each run, so no CPU sleeps (their CPU time counts as "benchmark" below)');
log(`plan per size: ~${PLAN.targetMs} ms measured after a warm-up of at least ${PLAN.warmupMs} ms (the first size 5x)${WARMUP_MODE === 'steady' ? `, the first size at least ${PLAN.warmupCalls} calls, until the time per call is steady` : ''} (FMI_BENCH_WARMUP=${WARMUP_MODE}), ${PLAN.minIters}..${PLAN.maxIters} iterations, at most ~${PLAN.capMs} ms`);

const mpi = IMPLS.includes('openmpi-tcp') ? prepareMpi() : undefined;
const cSocket = IMPLS.includes('c-socket') && BENCHES.includes('pingpong') ? prepareCSocket() : undefined;
const fmiCli = join(root, 'dist/cli/main.js');
const base = process.env.FMI_BENCH_BASE ? prepareBase(process.env.FMI_BENCH_BASE) : undefined;
const planArgs = [PLAN.targetMs, PLAN.warmupMs, PLAN.minIters, PLAN.maxIters, PLAN.capMs].map(String);

try {
  if (BENCHES.includes('pingpong')) {
    const sizes = sizesFrom(PINGPONG_SIZES).map(String);
    if (IMPLS.includes('fmi')) await fmiJob('pingpong fmi, 2 ranks', 2, 'pingpong.mjs');
    if (IMPLS.includes('raw-socket')) await job('pingpong raw-socket, 2 processes', process.execPath, [join(here, 'raw-pingpong.mjs')]);
    if (cSocket) await job('pingpong c-socket, 2 processes', cSocket.exe, [...planArgs, ...sizes]);
    if (mpi) await job('pingpong openmpi-tcp, 2 ranks', 'mpirun', [...MPIRUN_FLAGS, '-np', '2', mpi.pingpong, ...planArgs, ...sizes]);
  }
  if (BENCHES.includes('allreduce')) {
    const sizes = sizesFrom(ALLREDUCE_SIZES).map(String);
    for (const n of RANKS) {
      if (IMPLS.includes('fmi')) await fmiJob(`allreduce fmi, ${n} ranks`, n, 'allreduce.mjs');
      if (IMPLS.includes('raw-socket') && sizesFrom(ALLREDUCE_SIZES).some((b) => b <= RAW_COLL_MAX_BYTES)) await job(`allreduce raw-socket, ${n} processes`, process.execPath, [join(here, 'raw-coll.mjs'), 'allreduce', String(n)]);
      if (POLL_US && IMPLS.includes('raw-socket') && sizesFrom(ALLREDUCE_SIZES).some((b) => b <= RAW_COLL_MAX_BYTES)) await rawPollJob('allreduce', n);
      if (mpi) await job(`allreduce openmpi-tcp, ${n} ranks`, 'mpirun', [...MPIRUN_FLAGS, '-np', String(n), mpi.allreduce, ...planArgs, ...sizes]);
    }
  }
  for (const bench of ['bcast', 'barrier']) {
    if (!BENCHES.includes(bench)) continue;
    const sizes = bench === 'bcast' ? sizesFrom(BCAST_SIZES).map(String) : ['0'];
    for (const n of COLL_RANKS) {
      if (IMPLS.includes('fmi')) await fmiJob(`${bench} fmi, ${n} ranks`, n, `${bench}.mjs`);
      if (bench === 'barrier' && IMPLS.includes('raw-socket')) await job(`barrier raw-socket, ${n} processes`, process.execPath, [join(here, 'raw-coll.mjs'), 'barrier', String(n)]);
      if (POLL_US && bench === 'barrier' && IMPLS.includes('raw-socket')) await rawPollJob('barrier', n);
      if (mpi) await job(`${bench} openmpi-tcp, ${n} ranks`, 'mpirun', [...MPIRUN_FLAGS, '-np', String(n), mpi[bench], ...planArgs, ...sizes]);
    }
  }
  if (BENCHES.includes('allreduce-algos')) {
    // One size at a time; every implementation in turn, in FMI_BENCH_ROUNDS
    // rounds with the order rotated each round. On a shared machine the load
    // drifts within seconds: the rows to compare should see the same load,
    // and the table takes each row's median over the rounds. (Interleaving
    // the variants call by call in one process would be finer, but the
    // fresh-result variants' garbage would then be collected during the
    // `into` variants' calls.)
    const impls = [];
    if (IMPLS.includes('fmi')) for (const v of ALGO_VARIANTS) impls.push(v);
    if (mpi) impls.push(['openmpi-tcp']);
    for (const n of ALGO_RANKS) {
      for (const bytes of sizesFrom(ALGO_SIZES)) {
        const size = fmtBytes(bytes);
        for (let round = 1; round <= ALGO_ROUNDS; round++) {
          const relabel = { bench: 'allreduce-algos', round };
          for (let k = 0; k < impls.length; k++) {
            const [label, algo, into] = impls[(k + round - 1) % impls.length];
            const title = `allreduce-algos ${label === 'openmpi-tcp' ? label : `fmi ${label}`}, ${n} ranks, ${size}, round ${round}/${ALGO_ROUNDS}`;
            if (label === 'openmpi-tcp') await job(title, 'mpirun', [...MPIRUN_FLAGS, '-np', String(n), mpi.allreduce, ...planArgs, String(bytes)], { relabel });
            else {
              const env = { FMI_BENCH_SIZES: String(bytes), FMI_BENCH_ALGO: algo, FMI_BENCH_INTO: into };
              await job(title, process.execPath, [fmiCli, 'run', '-n', String(n), '--no-prefix', join(here, 'allreduce.mjs')], { env, relabel });
            }
          }
        }
      }
    }
  }
  if (BENCHES.includes('channels')) {
    // Its own servers, its own timeout per channel (FMI_BENCH_TIMEOUT_S, default 600 s there); this one covers all three.
    await job('channels: direct, redis, s3', process.execPath, [join(here, 'channels.mjs')], { env: { FMI_BENCH_DRIVER: '1' }, timeoutMs: Math.max(TIMEOUT_MS, 3 * Number(process.env.FMI_BENCH_TIMEOUT_S ?? 600) * 1000 + 120_000) });
  }
} finally {
  if (mpi) rmSync(mpi.dir, { recursive: true, force: true });
  if (cSocket) rmSync(cSocket.dir, { recursive: true, force: true });
  if (base) rmSync(base.bench, { recursive: true, force: true });
}

log(`\nload average before ${loadBefore}, after ${loadLine()} (${cpus().length} CPUs); total ${((performance.now() - started) / 1000).toFixed(1)} s`);
for (const j of jobs) {
  if (j.other !== undefined) log(`  ${j.title.padEnd(36)} ${j.seconds.toFixed(1).padStart(5)} s   CPUs busy: benchmark ${j.bench.toFixed(2)}, other work ${j.other.toFixed(2)}`);
}
printTables();
if (ARGS.report !== undefined) await report(results, [`Run of ${new Date().toISOString()}, ${gitHead()}: ${cpus().length} CPUs, load average before ${loadBefore}, after ${loadLine()}.`, `FMI_BENCH=${BENCHES.join(',')} FMI_BENCH_IMPL=${IMPLS.join(',')}${QUICK ? ' FMI_BENCH_QUICK=1' : ''}`]);
for (const p of problems) log(`PROBLEM: ${p}`);
process.exitCode = problems.length > 0 ? 1 : 0;

function fail(msg) {
  log(`bench: ${msg}`);
  process.exit(2);
}

/** --report DIR: the charts (bench/report/render.mjs, loaded only then: vega is a dev dependency). */
async function report(rows, meta) {
  const { writeReport } = await import('./report/render.mjs');
  const files = await writeReport(rows, ARGS.report, meta);
  log(`\nreport: ${files.length - 1} figures and index.html in ${ARGS.report}`);
}

/**
 * FMI_BENCH_BASE: an earlier fmi checkout, built. This tree's benchmark
 * scripts are copied into it, so that their `import 'fmi'` resolves to that
 * checkout's package: the same measurement of the old code, in this run.
 */
function prepareBase(dir) {
  const missingThere = ['dist/index.js', 'dist/cli/main.js', 'build/kernels.wasm'].filter((f) => !existsSync(join(dir, f)));
  if (missingThere.length > 0) fail(`FMI_BENCH_BASE=${dir}: ${missingThere.join(', ')} missing (build it there first)`);
  const bench = join(dir, '.bench-now');
  rmSync(bench, { recursive: true, force: true });
  cpSync(here, bench, { recursive: true });
  const head = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: dir, encoding: 'utf8' });
  log(`fmi-base rows: ${dir} (${head.status === 0 ? `git ${head.stdout.trim()}` : 'not a git checkout'})`);
  return { cli: join(dir, 'dist/cli/main.js'), bench };
}

/** One fmi job on `n` ranks; with FMI_BENCH_BASE, the same job on the base checkout right after. */
async function fmiJob(title, n, script) {
  await job(title, process.execPath, [fmiCli, 'run', '-n', String(n), '--no-prefix', join(here, script)]);
  if (POLL_US) await job(`${title}, FMI_DIRECT_POLL_US=${POLL_US}`, process.execPath, [fmiCli, 'run', '-n', String(n), '--no-prefix', join(here, script)], { env: { FMI_DIRECT_POLL_US: POLL_US }, relabel: { impl: 'fmi-poll' } });
  if (base) await job(title.replace('fmi', 'fmi-base'), process.execPath, [base.cli, 'run', '-n', String(n), '--no-prefix', join(base.bench, script)], { relabel: { impl: 'fmi-base' } });
}

/** bench/raw-coll.mjs polling as FMI_DIRECT_POLL_US does (FMI_BENCH_POLL_US): rows 'raw-poll', fmi's pattern only. */
function rawPollJob(bench, n) {
  const env = { FMI_BENCH_RAW_POLL_US: POLL_US, FMI_BENCH_RAW_PATTERNS: 'star' };
  return job(`${bench} raw-socket, ${n} processes, polling ${POLL_US} µs`, process.execPath, [join(here, 'raw-coll.mjs'), bench, String(n)], { env, relabel: { impl: 'raw-poll' } });
}

/** Compiles the Open MPI programs, or explains why the openmpi-tcp rows are skipped. */
function prepareMpi() {
  const why = (what) => log(`SKIP openmpi-tcp rows: ${what}. Install with: apt-get update && apt-get install -y openmpi-bin libopenmpi-dev`);
  for (const tool of ['mpicc', 'mpirun']) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error) {
      why(`${tool} not found (${r.error.code})`);
      return undefined;
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-mpi-'));
  const out = {};
  for (const name of ['pingpong', 'allreduce', 'bcast', 'barrier']) {
    const exe = join(dir, name);
    const r = spawnSync('mpicc', ['-O2', '-o', exe, join(here, 'native', `${name}.c`), '-lm'], { encoding: 'utf8' });
    if (r.status !== 0) {
      why(`mpicc failed on native/${name}.c:\n${r.stderr}`);
      rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
    out[name] = exe;
  }
  return { dir, ...out };
}

/** Compiles bench/native/tcp-pingpong.c (a C compiler only, no MPI), or explains why the c-socket rows are skipped. */
function prepareCSocket() {
  const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-c-'));
  const exe = join(dir, 'tcp-pingpong');
  const r = spawnSync('cc', ['-O2', '-o', exe, join(here, 'native', 'tcp-pingpong.c'), '-lm'], { encoding: 'utf8' });
  if (r.status === 0) return { dir, exe };
  log(`SKIP c-socket rows: cc failed on native/tcp-pingpong.c: ${r.error?.message ?? r.stderr}`);
  rmSync(dir, { recursive: true, force: true });
  return undefined;
}

/** Runs one benchmark process; JSON lines go to stdout and into `results`, anything else to stderr. */
function job(title, cmd, args, { env = {}, relabel, timeoutMs = TIMEOUT_MS } = {}) {
  const t0 = performance.now();
  const cpu0 = cpuTicks();
  log(`\n== ${title}  (load average ${loadLine()})`);
  const spinners = AWAKE ? startSpinners() : [];
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let count = 0;
    const line = (l) => {
      if (l.startsWith('{')) {
        try {
          const r = { ...JSON.parse(l), ...relabel };
          results.push(r);
          count++;
          process.stdout.write((relabel ? JSON.stringify(r) : l) + '\n');
          if (r.bench === 'channels') return; // channels.mjs logs its own, with the model's numbers
          log(`   ${fmtBytes(r.bytes).padStart(8)}  p50 ${fmtUs(r.p50_us).padStart(10)}  p99 ${fmtUs(r.p99_us).padStart(10)}  ${String(r.mb_s.toFixed(1)).padStart(9)} MB/s  (${r.iters} iters)`);
          return;
        } catch {
          /* not ours: fall through */
        }
      }
      if (l.trim()) log(`   | ${l}`);
    };
    const lines = eachLine(child.stdout, line);
    const timer = setTimeout(() => {
      problems.push(`${title}: no exit after ${timeoutMs / 1000} s, stopped`);
      child.kill('SIGTERM');
    }, timeoutMs);
    child.on('error', (err) => {
      problems.push(`${title}: could not start ${cmd}: ${err.message}`);
    });
    child.on('close', async (code, signal) => {
      clearTimeout(timer);
      await stopSpinners(spinners);
      await lines;
      if (code !== 0) problems.push(`${title}: exited with ${signal ?? `code ${code}`} after ${count} results`);
      const use = cpuUse(cpu0, cpuTicks());
      const built = IMPLS.includes('fmi') ? newestBuild() : lastBuild;
      if (built !== lastBuild) {
        problems.push(`dist/ or build/kernels.wasm was rebuilt (by someone else) during "${title}": fmi rows from here on measure another build than the ones before`);
        lastBuild = built;
      }
      const cpuNote = use ? `; CPUs busy: this benchmark ${use.bench.toFixed(2)}, other work ${use.other.toFixed(2)}` : '';
      jobs.push({ title, seconds: (performance.now() - t0) / 1000, ...use });
      log(`   (${((performance.now() - t0) / 1000).toFixed(1)} s${cpuNote})`);
      resolve();
    });
  });
}

/**
 * On a VM, a CPU with nothing to run halts, and waking it for the next
 * message costs tens of µs (Open MPI busy-polls and never sees this; Node
 * sleeps in epoll and does). Lowest-priority spinners keep every CPU running
 * and take almost no time from the benchmark, so the software path alone is
 * measured.
 */
function startSpinners() {
  return cpus().map(() => {
    const c = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    try {
      setPriority(c.pid, 19);
    } catch {
      /* still useful at normal priority only for latency; leave it */
    }
    return c;
  });
}

function stopSpinners(list) {
  return Promise.all(
    list.map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', resolve);
      c.kill('SIGKILL');
    })),
  );
}

/**
 * CPU time so far, in clock ticks (USER_HZ, 100 on Linux): every CPU's busy
 * time, and this driver's own plus its waited-for children's (the benchmark
 * processes and, through fmi run / mpirun, their ranks). The difference over
 * a job is what other work on the machine used meanwhile.
 */
function cpuTicks() {
  try {
    const all = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal = 0] = all;
    const me = readFileSync('/proc/self/stat', 'utf8');
    const f = me.slice(me.lastIndexOf(')') + 2).split(' ');
    return { busy: user + nice + system + irq + softirq + steal, ours: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), t: performance.now() };
  } catch {
    return undefined;
  }
}

/** "bench used X CPUs, other work Y CPUs" between two cpuTicks() snapshots. */
function cpuUse(a, b) {
  if (!a || !b) return undefined;
  const ticks = ((b.t - a.t) / 1000) * 100;
  if (ticks <= 0) return undefined;
  return { bench: (b.ours - a.ours) / ticks, other: Math.max(0, (b.busy - a.busy - (b.ours - a.ours)) / ticks) };
}

/** mtime (ms) of the newest file under dist/ and of build/kernels.wasm: a rebuild during the run shows as a change. */
function newestBuild() {
  let newest = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  try {
    walk(join(root, 'dist'));
    newest = Math.max(newest, statSync(join(root, 'build/kernels.wasm')).mtimeMs);
  } catch {
    /* reported by the missing-build check */
  }
  return newest;
}

function gitHead() {
  const r = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? `git ${r.stdout.trim()}` : 'not a git checkout';
}

function fmtUs(us) {
  if (us === undefined || Number.isNaN(us)) return '-';
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  return `${us.toFixed(1)} µs`;
}

function ratio(a, b) {
  if (!a || !b) return '-';
  return `${(a.p50_us / b.p50_us).toFixed(2)}x`;
}

function printTables() {
  const find = (bench, impl, ranks, bytes) => results.find((r) => r.bench === bench && r.impl === impl && r.ranks === ranks && r.bytes === bytes && (impl !== 'raw-socket' || (r.variant ?? RAW_AS_FMI[bench]) === RAW_AS_FMI[bench]));
  // The fastest raw-socket pattern of a collective (raw-coll.mjs runs several); its name without the "f64,sum," prefix.
  const best = (bench, ranks, bytes) => {
    const rs = results.filter((r) => r.bench === bench && r.impl === 'raw-socket' && r.ranks === ranks && r.bytes === bytes).sort((a, b) => a.p50_us - b.p50_us);
    return rs.length > 1 ? { ...rs[0], name: rs[0].variant === 'f64,sum' ? 'star' : rs[0].variant.replace(/^f64,sum,/, '') } : undefined;
  };
  const groups = [];
  if (BENCHES.includes('pingpong')) groups.push({ bench: 'pingpong', ranks: 2, title: 'ping-pong, 2 ranks: one-way time = round trip / 2', sizes: sizesFrom(PINGPONG_SIZES) });
  if (BENCHES.includes('allreduce')) {
    for (const n of RANKS) groups.push({ bench: 'allreduce', ranks: n, title: `allreduce Op.SUM Float64Array, ${n} ranks: time of the slowest rank`, sizes: sizesFrom(ALLREDUCE_SIZES).map((b) => Math.max(8, Math.floor(b / 8) * 8)) });
  }
  if (BENCHES.includes('bcast')) {
    for (const n of COLL_RANKS) groups.push({ bench: 'bcast', ranks: n, title: `bcast Uint8Array from rank 0, ${n} ranks: time of the slowest rank (barrier between calls, not timed)`, sizes: sizesFrom(BCAST_SIZES) });
  }
  if (BENCHES.includes('barrier')) {
    for (const n of COLL_RANKS) groups.push({ bench: 'barrier', ranks: n, title: `barrier, ${n} ranks: time of the slowest rank`, sizes: [0] });
  }
  const impls = [
    ['fmi', 'fmi'],
    ['fmi-base', 'base'],
    ['fmi-poll', 'poll'],
    ['raw-socket', 'raw'],
    ['raw-poll', 'rawpoll'],
    ['c-socket', 'csock'],
    ['openmpi-tcp', 'ompi'],
  ];
  for (const g of groups) {
    const shown = impls.filter(([impl]) => results.some((r) => r.bench === g.bench && r.ranks === g.ranks && r.impl === impl));
    if (shown.length === 0) continue;
    log(`\n${g.title}`);
    const head = ['size'];
    for (const [, short] of shown) head.push(`${short} p50`, `${short} p99`, `${short} MB/s`);
    const hasRaw = shown.some(([i]) => i === 'raw-socket');
    const hasMpi = shown.some(([i]) => i === 'openmpi-tcp');
    const hasFmi = shown.some(([i]) => i === 'fmi');
    const hasBase = shown.some(([i]) => i === 'fmi-base');
    if (hasFmi && hasBase) head.push('fmi/base');
    if (hasBase && hasMpi) head.push('base/ompi');
    const hasBest = g.bench !== 'pingpong' && g.sizes.some((b) => best(g.bench, g.ranks, b));
    if (hasBest) head.push('best raw p50');
    if (hasFmi && hasRaw) head.push('fmi/raw');
    if (hasFmi && hasMpi) head.push('fmi/ompi');
    if (hasRaw && hasMpi) head.push('raw/ompi');
    const hasC = shown.some(([i]) => i === 'c-socket');
    if (hasC && hasMpi) head.push('csock/ompi');
    if (hasBest && hasMpi) head.push('best/ompi');
    const hasPoll = shown.some(([i]) => i === 'fmi-poll');
    const hasRawPoll = shown.some(([i]) => i === 'raw-poll');
    if (hasPoll && hasMpi) head.push('poll/ompi');
    if (hasRawPoll && hasMpi) head.push('rawpoll/ompi');
    const hasWarm = results.some((r) => r.bench === g.bench && r.ranks === g.ranks && r.warmup_ms !== undefined);
    if (hasWarm) head.push('warm-up s (fmi/ompi)');
    const rows = [head];
    for (const bytes of g.sizes) {
      const row = [fmtBytes(bytes)];
      for (const [impl] of shown) {
        const r = find(g.bench, impl, g.ranks, bytes);
        row.push(r ? fmtUs(r.p50_us) : '-', r ? fmtUs(r.p99_us) : '-', r ? r.mb_s.toFixed(0) : '-');
      }
      const f = find(g.bench, 'fmi', g.ranks, bytes);
      const b = find(g.bench, 'fmi-base', g.ranks, bytes);
      if (hasFmi && hasBase) row.push(ratio(f, b));
      if (hasBase && hasMpi) row.push(ratio(b, find(g.bench, 'openmpi-tcp', g.ranks, bytes)));
      const raw = find(g.bench, 'raw-socket', g.ranks, bytes);
      const om = find(g.bench, 'openmpi-tcp', g.ranks, bytes);
      const b0 = hasBest ? best(g.bench, g.ranks, bytes) : undefined;
      if (hasBest) row.push(b0 ? `${fmtUs(b0.p50_us)} ${b0.name}` : '-');
      if (hasFmi && hasRaw) row.push(ratio(f, raw));
      if (hasFmi && hasMpi) row.push(ratio(f, om));
      if (hasRaw && hasMpi) row.push(ratio(raw, om));
      if (hasC && hasMpi) row.push(ratio(find(g.bench, 'c-socket', g.ranks, bytes), om));
      if (hasBest && hasMpi) row.push(ratio(b0, om));
      if (hasPoll && hasMpi) row.push(ratio(find(g.bench, 'fmi-poll', g.ranks, bytes), om));
      if (hasRawPoll && hasMpi) row.push(ratio(find(g.bench, 'raw-poll', g.ranks, bytes), om));
      if (hasWarm) row.push([f, om].map((r) => (r?.warmup_ms === undefined ? '-' : (r.warmup_ms / 1000).toFixed(1))).join('/'));
      rows.push(row);
    }
    const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  }
  if (groups.some((g) => results.some((r) => r.bench === g.bench))) {
    log('\nfmi/base, fmi/raw, fmi/ompi: fmi p50 time divided by the other p50 time (>1: fmi is slower; for MB/s take the inverse).');
    log('raw: bare Node sockets with fmi\'s message pattern (collectives: the star); best raw: the fastest pattern bench/raw-coll.mjs tried; raw/ompi, best/ompi: their p50 over Open MPI\'s.');
    if (results.some((r) => r.impl === 'c-socket')) log('csock: a C program over one loopback TCP socket, blocking read and write (sleeps in the kernel, no polling: bench/native/tcp-pingpong.c); csock/ompi: its p50 over Open MPI\'s.');
  }
  if (BENCHES.includes('allreduce-algos')) printAlgoTables();
  if (BENCHES.includes('channels')) {
    const t = channelsTables(results);
    if (t) log(t);
  }
}

function printTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}

/** allreduce-algos: ring vs recursive doubling vs Open MPI, and what `into` saves. */
function printAlgoTables() {
  const mine = results.filter((r) => r.bench === 'allreduce-algos');
  // Median over the rounds of p50 and of p99; `spread` the lowest and highest round p50.
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const get = (n, bytes, impl, variant) => {
    const rs = mine.filter((r) => r.ranks === n && r.bytes === bytes && r.impl === impl && (variant === undefined || r.variant === variant));
    if (rs.length === 0) return undefined;
    const p50 = median(rs.map((r) => r.p50_us));
    return { p50_us: p50, p99_us: median(rs.map((r) => r.p99_us)), mb_s: bytes / p50, lo: Math.min(...rs.map((r) => r.p50_us)), hi: Math.max(...rs.map((r) => r.p50_us)), rounds: rs.length };
  };
  const spread = (r) => (r ? `${fmtUs(r.lo)}..${fmtUs(r.hi)}` : '-');
  const fmi = (n, bytes, algo, into) => get(n, bytes, 'fmi', `f64,sum,${algo}${into ? ',into' : ''}`);
  const cell = (r, f) => (r ? f(r) : '-');
  const pct = (a, b) => (a && b ? `${(100 * (1 - a.p50_us / b.p50_us)).toFixed(0)}%` : '-');
  for (const n of [...new Set(mine.map((r) => r.ranks))]) {
    const sizes = [...new Set(mine.filter((r) => r.ranks === n).map((r) => r.bytes))].sort((a, b) => a - b);
    const rounds = Math.max(...mine.filter((r) => r.ranks === n).map((r) => r.round ?? 1));
    log(`\nallreduce Op.SUM Float64Array, ${n} ranks: fmi ring vs Rabenseifner (rab) vs recursive doubling (rd) vs Open MPI TCP; time of the slowest rank, median over ${rounds} round(s)`);
    const rows = [['size', 'ring p50', 'rab p50', 'rd p50', 'ompi p50', 'ring p99', 'rab p99', 'rd p99', 'ompi p99', 'ring/ompi', 'rab/ompi', 'rd/ompi', 'fastest']];
    for (const b of sizes) {
      const ring = fmi(n, b, 'ring', false);
      const rab = fmi(n, b, 'rabenseifner', false);
      const rd = fmi(n, b, 'recursive-doubling', false);
      const om = get(n, b, 'openmpi-tcp');
      const ranked = [['ring', ring], ['rab', rab], ['rd', rd]].filter(([, r]) => r).sort((x, y) => x[1].p50_us - y[1].p50_us);
      rows.push([fmtBytes(b), ...[ring, rab, rd, om].map((r) => cell(r, (x) => fmtUs(x.p50_us))), ...[ring, rab, rd, om].map((r) => cell(r, (x) => fmtUs(x.p99_us))),
        ratio(ring, om), ratio(rab, om), ratio(rd, om), ranked[0]?.[0] ?? '-']);
    }
    printTable(rows);
    log(`\np50 of each round, lowest..highest (how much the load moved them)`);
    const srows = [['size', 'ring', 'rab', 'rd', 'ring+into', 'rab+into', 'rd+into', 'ompi']];
    for (const b of sizes) {
      srows.push([fmtBytes(b), ...[false, true].flatMap((into) => ['ring', 'rabenseifner', 'recursive-doubling'].map((a) => spread(fmi(n, b, a, into)))), spread(get(n, b, 'openmpi-tcp'))]);
    }
    printTable(srows);
    log(`\nthe same with { into } (result written into one reused buffer): p50, and how much of the p50 it saves`);
    const irows = [['size', 'ring', 'ring+into', 'saves', 'rab', 'rab+into', 'saves', 'rd', 'rd+into', 'saves']];
    for (const b of sizes) {
      irows.push([fmtBytes(b), ...['ring', 'rabenseifner', 'recursive-doubling'].flatMap((a) => {
        const plain = fmi(n, b, a, false);
        const into = fmi(n, b, a, true);
        return [cell(plain, (r) => fmtUs(r.p50_us)), cell(into, (r) => fmtUs(r.p50_us)), pct(into, plain)];
      })]);
    }
    printTable(irows);
  }
  log('\nring/ompi, rab/ompi, rd/ompi: p50 time divided by p50 time (>1: the first is slower). saves: 1 - p50 with into / p50 without (negative: into is slower).');
}
