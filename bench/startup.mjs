// Start-up cost: how long `import('fmi')` takes in a fresh process, and how
// long `fmi run -n N` takes from launch until every rank is through its
// first barrier. Run after `npm run build`:  node bench/startup.mjs
//
// stdout: one JSON line per result
//   {bench:'import', entry, runs, p50_ms, min_ms, cpu_p50_ms}   entry: fmi | dist/index.js (unbundled)
//   {bench:'init', ranks, runs, launch_to_barrier_ms, import_ms, init_ms, barrier_ms}
//     launch_to_barrier_ms: launch of `fmi run` until the last rank's barrier
//     returned (median over runs); import_ms, init_ms, barrier_ms: per phase,
//     the slowest rank's, median over runs.
// stderr: a summary for people.
//
// Environment: BENCH_RUNS (default 15 imports, 5 launches), BENCH_RANKS
// (comma-separated, default 16).

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = import.meta.resolve('fmi');
const unbundled = new URL('../dist/index.js', import.meta.url).href;
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const RUNS = process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : undefined;
const RANKS = (process.env.BENCH_RANKS ?? '16').split(',').map(Number);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x) => Math.round(x * 10) / 10;
const emit = (r) => process.stdout.write(JSON.stringify(r) + '\n');

/**
 * import() of each entry in a fresh process, the entries alternating run
 * after run so that load drifts hit both alike: 'fmi' (what package.json's
 * exports give, the esbuild bundle in dist/bundle/) and tsc's unbundled
 * dist/index.js, for comparison. cpu_ms is the process's user+system CPU
 * during the import, which a loaded machine inflates less than wall time.
 */
function benchImport(runs) {
  const entries = [['fmi', entry], ['dist/index.js (unbundled)', unbundled]];
  const ms = entries.map(() => []);
  const cpu = entries.map(() => []);
  for (let i = 0; i < runs; i++) {
    entries.forEach(([, url], j) => {
      const script = `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(url)}); const d = process.cpuUsage(c); console.log(performance.now() - t, (d.user + d.system) / 1000);`;
      const [wall, used] = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split(' ').map(Number);
      ms[j].push(wall);
      cpu[j].push(used);
    });
  }
  return entries.map(([name], j) => {
    const r = { bench: 'import', entry: name, runs, p50_ms: round(median(ms[j])), min_ms: round(Math.min(...ms[j])), cpu_p50_ms: round(median(cpu[j])) };
    emit(r);
    return r;
  });
}

// Each rank reports, in ms since the launch (FMI_BENCH_T0, an epoch time):
// process start, fmi imported, init() returned, first barrier returned.
const RANK = `
const t0 = Number(process.env.FMI_BENCH_T0);
const start = performance.timeOrigin - t0;
const { init } = await import(${JSON.stringify(entry)});
const imported = Date.now() - t0;
const comm = await init();
const ready = Date.now() - t0;
await comm.barrier();
const done = Date.now() - t0;
console.log('T ' + JSON.stringify({ start, imported, ready, done }));
await comm.close();
`;

function launch(ranks, script) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [cli, 'run', '-n', String(ranks), '--no-prefix', script], {
      cwd: root, env: { ...process.env, FMI_BENCH_T0: String(t0) }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => {
      const rows = out.split('\n').filter((l) => l.startsWith('T ')).map((l) => JSON.parse(l.slice(2)));
      if (code !== 0 || rows.length !== ranks) reject(new Error(`fmi run -n ${ranks} exited ${code} with ${rows.length} reports`));
      else resolve(rows);
    });
  });
}

async function benchInit(ranks, runs, script) {
  const total = [], imp = [], ini = [], bar = [];
  for (let i = 0; i < runs; i++) {
    const rows = await launch(ranks, script);
    total.push(Math.max(...rows.map((r) => r.done)));
    imp.push(Math.max(...rows.map((r) => r.imported - r.start)));
    ini.push(Math.max(...rows.map((r) => r.ready - r.imported)));
    bar.push(Math.max(...rows.map((r) => r.done - r.ready)));
  }
  const r = { bench: 'init', ranks, runs, launch_to_barrier_ms: median(total), import_ms: round(median(imp)), init_ms: median(ini), barrier_ms: median(bar) };
  emit(r);
  return r;
}

const out = benchImport(RUNS ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'fmi-startup-'));
try {
  const script = join(dir, 'rank.mjs');
  writeFileSync(script, RANK);
  for (const n of RANKS) out.push(await benchInit(n, RUNS ?? 5, script));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stderr.write(`\nload average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
for (const r of out) {
  if (r.bench === 'import') process.stderr.write(`import ${r.entry}: ${r.p50_ms} ms median, ${r.min_ms} ms min, CPU ${r.cpu_p50_ms} ms median (${r.runs} processes)\n`);
  else process.stderr.write(`fmi run -n ${r.ranks}: ${r.launch_to_barrier_ms} ms launch to barrier (slowest rank: import ${r.import_ms}, init ${r.init_ms}, barrier ${r.barrier_ms} ms)\n`);
}
