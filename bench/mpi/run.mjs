// C MPI programs on fmi next to the same operations through the TS API and
// next to native Open MPI: the C ping-pong and allreduce of bench/native/,
// compiled twice (fmi cc -O2 and mpicc -O2), plus bench/pingpong.mjs and
// bench/allreduce.mjs.
//   npm run build && node bench/mpi/run.mjs
//
// Sizes are issue 12's: latency 1 B - 4 MiB, MPI_Allreduce 8 B (one double)
// - 1 MiB. stdout: one JSON line per result (impl "fmi-cc", "fmi",
// "openmpi-tcp"); stderr: progress, then a table of p50 times with the
// fmi-cc/fmi and fmi-cc/openmpi ratios, `!` where fmi-cc is over 1.5x the TS
// API. Environment as for bench/run.mjs: FMI_BENCH_QUICK, FMI_BENCH_MS,
// FMI_BENCH_SIZES (both benchmarks), FMI_BENCH_RANKS (allreduce, default
// 2,4), FMI_BENCH=pingpong,allreduce, FMI_BENCH_IMPL=fmi-cc,fmi,openmpi-tcp;
// FMI_BENCH_REPEAT=k runs the whole sequence k times (the implementations
// take turns, so a spell of load hits them alike) and the table gives the
// median p50 and, for cc/fmi, the lowest and highest ratio of one round:
// a ratio over 1.5 in one round only is the machine, not the C path.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLAN, eachLine, fmtBytes, sizesFrom } from '../lib/common.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '../..');
const list = (v, d) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : d);
const BENCHES = list(process.env.FMI_BENCH, ['pingpong', 'allreduce']);
const IMPLS = list(process.env.FMI_BENCH_IMPL, ['fmi-cc', 'fmi', 'openmpi-tcp']);
const RANKS = list(process.env.FMI_BENCH_RANKS, ['2', '4']).map(Number);
const REPEAT = Math.max(1, Number(process.env.FMI_BENCH_REPEAT ?? 1));
const MPIRUN = ['--allow-run-as-root', '--oversubscribe', '--mca', 'pml', 'ob1', '--mca', 'btl', 'tcp,self'];
const log = (s) => process.stderr.write(`${s}\n`);
const cli = join(root, 'dist/cli/main.js');
const KiB = 1024;
const MiB = 1024 * KiB;
const PINGPONG_SIZES = [1, 8, 64, KiB, 16 * KiB, 256 * KiB, MiB, 4 * MiB];
const ALLREDUCE_SIZES = [8, 64, KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB];
const planArgs = [PLAN.targetMs, PLAN.warmupMs, PLAN.minIters, PLAN.maxIters, PLAN.capMs].map(String);

for (const f of ['dist/cli/main.js', 'dist/cli/cc.js', 'dist/mpi/index.js', 'build/kernels.wasm']) {
  if (!existsSync(join(root, f))) {
    log(`bench/mpi: ${f} missing: run \`npm run build\` first`);
    process.exit(2);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-cc-'));
const results = [];
let round = 0;
try {
  const built = { cc: {}, mpi: {} };
  for (const name of ['pingpong', 'allreduce']) {
    const src = join(root, 'bench/native', `${name}.c`);
    if (IMPLS.includes('fmi-cc')) {
      const { ccCommand } = await import(join(root, 'dist/cli/cc.js'));
      const out = join(dir, `${name}.js`);
      if ((await ccCommand([src, '-O2', '-lm', '-o', out], false)) !== 0) throw new Error(`fmi cc failed on ${name}.c`);
      built.cc[name] = out;
    }
    if (IMPLS.includes('openmpi-tcp')) {
      const exe = join(dir, name);
      const r = spawnSync('mpicc', ['-O2', '-o', exe, src, '-lm'], { encoding: 'utf8' });
      if (r.error || r.status !== 0) log(`SKIP openmpi-tcp ${name}: ${r.error?.message ?? r.stderr}`);
      else built.mpi[name] = exe;
    }
  }

  const plan = (name, sizes) => [...planArgs, ...sizes];
  for (round = 0; round < REPEAT; round++) {
    if (REPEAT > 1) log(`\n##### round ${round + 1} of ${REPEAT}`);
    if (BENCHES.includes('pingpong')) {
      const sizes = sizesFrom(PINGPONG_SIZES).map(String);
      if (built.cc.pingpong) await job('pingpong fmi-cc, 2 ranks', 'fmi-cc', fmiRun(2, built.cc.pingpong, plan('pingpong', sizes)));
      if (IMPLS.includes('fmi')) await job('pingpong fmi (TS API), 2 ranks', 'fmi', [process.execPath, cli, 'run', '-n', '2', '--no-prefix', join(root, 'bench/pingpong.mjs')], sizes);
      if (built.mpi.pingpong) await job('pingpong openmpi-tcp, 2 ranks', 'openmpi-tcp', ['mpirun', ...MPIRUN, '-np', '2', built.mpi.pingpong, ...plan('pingpong', sizes)]);
    }
    if (BENCHES.includes('allreduce')) {
      const sizes = sizesFrom(ALLREDUCE_SIZES).map(String);
      for (const n of RANKS) {
        if (built.cc.allreduce) await job(`allreduce fmi-cc, ${n} ranks`, 'fmi-cc', fmiRun(n, built.cc.allreduce, plan('allreduce', sizes)));
        if (IMPLS.includes('fmi')) await job(`allreduce fmi (TS API), ${n} ranks`, 'fmi', [process.execPath, cli, 'run', '-n', String(n), '--no-prefix', join(root, 'bench/allreduce.mjs')], sizes);
        if (built.mpi.allreduce) await job(`allreduce openmpi-tcp, ${n} ranks`, 'openmpi-tcp', ['mpirun', ...MPIRUN, '-np', String(n), built.mpi.allreduce, ...plan('allreduce', sizes)]);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
table();

/** `fmi run -n N prog.js args`, through the launcher's own code once `fmi run` knows compiled programs. */
function fmiRun(n, program, args) {
  const wired = readFileSync(join(root, 'dist/cli/run.js'), 'utf8').includes('isCompiledProgram');
  if (wired) return [process.execPath, cli, 'run', '-n', String(n), '--no-prefix', program, ...args];
  const script = `import { runLocal } from ${JSON.stringify(join(root, 'dist/cli/run.js'))};
import { RANK_MAIN } from ${JSON.stringify(join(root, 'dist/mpi/index.js'))};
import { fileURLToPath } from 'node:url';
process.exit(await runLocal({ ranks: ${n}, prefix: false, script: fileURLToPath(RANK_MAIN), args: ${JSON.stringify([program, ...args])} }));`;
  return [process.execPath, '--input-type=module', '-e', script];
}

/** Runs one benchmark; its JSON lines (relabelled for the fmi cc build of the Open MPI sources) go to stdout. */
function job(title, impl, [cmd, ...args], sizes) {
  log(`\n== ${title}`);
  return new Promise((resolve) => {
    // The TS scripts take their sizes from the environment, the C programs from their arguments.
    const env = sizes ? { ...process.env, FMI_BENCH_SIZES: sizes.join(',') } : process.env;
    const child = spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
    const line = (l) => {
      if (!l.startsWith('{')) return void (l && log(l));
      const r = JSON.parse(l);
      if (impl === 'fmi-cc') Object.assign(r, { impl: 'fmi-cc', channel: 'direct' });
      if (REPEAT > 1) r.round = round + 1;
      results.push(r);
      process.stdout.write(`${JSON.stringify(r)}\n`);
      log(`  ${fmtBytes(r.bytes).padStart(7)}  p50 ${String(r.p50_us).padStart(10)} us  ${String(r.mb_s).padStart(9)} MB/s`);
    };
    const lines = eachLine(child.stdout, line);
    child.on('exit', async (code) => {
      await lines;
      if (code !== 0) log(`  (${title} exited with ${code})`);
      resolve();
    });
  });
}

function table() {
  const p50s = (bench, impl, ranks, bytes) => results.filter((r) => r.bench === bench && r.impl === impl && r.ranks === ranks && r.bytes === bytes).map((r) => r.p50_us);
  const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] : undefined);
  const groups = [...new Set(results.map((r) => `${r.bench}/${r.ranks}`))];
  for (const g of groups) {
    const [bench, ranks] = [g.split('/')[0], Number(g.split('/')[1])];
    const many = REPEAT > 1 ? `, median of ${REPEAT} rounds; cc/fmi range: lowest-highest ratio of one round` : '';
    log(`\n${bench}, ${ranks} ranks: p50 us (fmi-cc / fmi, fmi-cc / openmpi)${many}`);
    log(`  ${'bytes'.padStart(7)} ${'fmi-cc'.padStart(10)} ${'fmi'.padStart(10)} ${'openmpi'.padStart(10)} ${'cc/fmi'.padStart(8)} ${'cc/ompi'.padStart(8)}${REPEAT > 1 ? ' cc/fmi range' : ''}`);
    const sizes = [...new Set(results.filter((r) => r.bench === bench && r.ranks === ranks).map((r) => r.bytes))].sort((a, b) => a - b);
    for (const bytes of sizes) {
      const [cs, fs, os] = ['fmi-cc', 'fmi', 'openmpi-tcp'].map((i) => p50s(bench, i, ranks, bytes));
      const [c, f, o] = [cs, fs, os].map(median);
      const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '-');
      const cell = (x) => String(x ?? '-').padStart(10);
      const flag = c && f && c / f > 1.5 ? ' !' : '';
      const rounds = cs.map((x, i) => x / fs[i]).filter((x) => Number.isFinite(x));
      const range = REPEAT > 1 && rounds.length ? ` ${Math.min(...rounds).toFixed(2)}-${Math.max(...rounds).toFixed(2)}` : '';
      log(`  ${fmtBytes(bytes).padStart(7)} ${cell(c)} ${cell(f)} ${cell(o)} ${ratio(c, f).padStart(8)} ${ratio(c, o).padStart(8)}${range}${flag}`);
    }
  }
}
