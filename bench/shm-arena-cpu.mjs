// The CPU one allreduce costs 4 thread ranks in the node arena (plain arrays
// and sharedArray() ones, with `into`), this build against an earlier one,
// alternated in one run: CPU is what a loaded machine inflates least (the
// wall time of 4 threads on 2 vCPUs mostly measures the other processes).
//   npm run build && FMI_BENCH_BASE=/tmp/base9 node bench/shm-arena-cpu.mjs
//
// Each job is `fmi run -n 4 --threads` of this script; every rank reads its
// own thread's /proc/thread-self/schedstat (Linux) around N calls after a
// warm-up: time on a CPU and time runnable but waiting for one, per call.
// Environment: FMI_BENCH_BASE=DIR (an earlier checkout, built; its jobs run
// this script too, importing DIR's fmi), FMI_BENCH_SIZES (default 1m),
// FMI_BENCH_ROUNDS (default 3: each build and mode once per round),
// N (calls per job, default 1000), FMI_BENCH_RANKS (default 4).
// stdout: {"bench":"arena-cpu","build","mode","bytes","ranks","cpu_us_per_call"
// (the ranks' sum),"runq_us_per_call" (sum),"wall_us_per_call","faults_per_call","load"}
// per job; stderr: the median of each build and mode, and their ratio.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLine, sizesFrom } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const RANK = process.env.FMI_ARENA_CPU_BUILD;

if (RANK === undefined) driver();
else await rank(RANK);

function driver() {
  const builds = [['this', join(here, '..')]];
  if (process.env.FMI_BENCH_BASE) builds.push(['base', process.env.FMI_BENCH_BASE]);
  const rounds = Number(process.env.FMI_BENCH_ROUNDS ?? 3);
  const ranks = String(Number(process.env.FMI_BENCH_RANKS ?? 4));
  const rows = [];
  for (let r = 0; r < rounds; r++) {
    for (const [build, dir] of builds) {
      for (const mode of ['plain', 'shared']) {
        const load = loadLine();
        const res = spawnSync(process.execPath, [join(dir, 'dist', 'cli', 'main.js'), 'run', '-n', ranks, '--threads', '--no-prefix', fileURLToPath(import.meta.url)], {
          env: { ...process.env, FMI_ARENA_CPU_BUILD: dir, FMI_ARENA_CPU_MODE: mode },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        for (const line of res.stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          const row = { ...JSON.parse(line), build, load };
          rows.push(row);
          process.stdout.write(JSON.stringify(row) + '\n');
        }
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const cell = (build, mode, bytes) => median(rows.filter((x) => x.build === build && x.mode === mode && x.bytes === bytes).map((x) => x.cpu_us_per_call));
  process.stderr.write(`arena allreduce, CPU us per call (all ranks), median of ${rounds}, load now ${loadLine()}\n`);
  for (const bytes of [...new Set(rows.map((x) => x.bytes))]) {
    for (const mode of ['plain', 'shared']) {
      const a = cell('this', mode, bytes);
      const b = builds.length > 1 ? cell('base', mode, bytes) : undefined;
      process.stderr.write(`${String(bytes).padStart(8)} ${mode.padEnd(7)} this ${a?.toFixed(1)}${b === undefined ? '' : `  base ${b.toFixed(1)}  this/base ${(a / b).toFixed(2)}`}\n`);
    }
  }
}

async function rank(dir) {
  const fmi = await import(pathToFileURL(join(dir, 'dist', 'index.js')).href);
  const shared = process.env.FMI_ARENA_CPU_MODE === 'shared';
  const N = Number(process.env.N ?? 1000);
  const comm = await fmi.init();
  const sched = () => readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  const array = (len) => (shared && fmi.sharedArray ? fmi.sharedArray(Float64Array, len) : new Float64Array(len));
  for (const bytes of sizesFrom([1024 * 1024])) {
    const len = Math.max(1, Math.floor(bytes / 8));
    const data = array(len).fill(comm.rank + 1);
    const into = array(len);
    for (let i = 0; i < Math.min(N, 300); i++) await comm.allreduce(data, fmi.Op.SUM, { into });
    await comm.barrier();
    const f0 = process.resourceUsage().minorPageFault;
    const s0 = sched();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await comm.allreduce(data, fmi.Op.SUM, { into });
    const wall = ((performance.now() - t0) * 1000) / N;
    const s1 = sched();
    const faults = (process.resourceUsage().minorPageFault - f0) / N;
    if (into[len - 1] !== (comm.size * (comm.size + 1)) / 2) throw new Error(`allreduce: got ${into[len - 1]}`);
    const mine = Float64Array.of((s1[0] - s0[0]) / 1000 / N, (s1[1] - s0[1]) / 1000 / N);
    const all = await comm.allgather(mine);
    if (comm.rank !== 0) continue;
    let cpu = 0;
    let runq = 0;
    for (let r = 0; r < comm.size; r++) {
      cpu += all[2 * r];
      runq += all[2 * r + 1];
    }
    const round1 = (x) => Math.round(x * 10) / 10;
    process.stdout.write(JSON.stringify({ bench: 'arena-cpu', mode: shared ? 'shared' : 'plain', bytes, ranks: comm.size, cpu_us_per_call: round1(cpu), runq_us_per_call: round1(runq), wall_us_per_call: round1(wall), faults_per_call: round1(faults) }) + '\n');
  }
  await comm.close();
}
