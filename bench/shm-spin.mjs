// 8 B ping-pong between two thread ranks through the communicator, this
// build against an earlier one, in turns: the opt-in spin (FMI_SHM_SPIN_US)
// and the default (blocking up to 5 ms), with the CPU each round trip costs
// (issue 13: 8 B <= 3 us half round trip with the spin).
//   npm run build && FMI_BENCH_BASE=/tmp/base12 node bench/shm-spin.mjs
// Environment: FMI_BENCH_BASE=DIR (an earlier fmi checkout, built; without
// it, this build only), FMI_BENCH_CALLS (round trips timed, default 20000;
// 2000 more warm up), FMI_BENCH_REPEAT (jobs per build and variant, taking
// turns; default 3), FMI_BENCH_SPIN_US (default 50), FMI_BENCH_VARIANTS
// (default spin,block; loop: FMI_SHM_BLOCK_US=0).
// stdout: one JSON line per job {bench:"shm-spin",build,variant,p50_us,
// p10_us,min_us,cpu_us_per_rt,load}: half round trips, and the process's CPU
// (both rank threads) per round trip. stderr: a table, medians over the jobs.
// A spinner needs a core of its own: under load, read min/p10 and the CPU.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadLine } from './lib/common.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 20000);
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 3);
const SPIN_US = process.env.FMI_BENCH_SPIN_US ?? '50';
const VARIANTS = (process.env.FMI_BENCH_VARIANTS ?? 'spin,block').split(',');
const ENV = { spin: { FMI_SHM_SPIN_US: SPIN_US }, block: {}, loop: { FMI_SHM_BLOCK_US: '0' } };

if (process.argv[2] === 'rank') {
  // One rank of `fmi run -n 2 --threads`, importing the fmi of the build under test.
  const { init } = await import(process.argv[3]);
  const calls = Number(process.argv[4]);
  const comm = await init();
  const buf = new Uint8Array(8);
  const into = { into: buf };
  const samples = new Float64Array(calls);
  const rounds = async (n, keep) => {
    for (let i = 0; i < n; i++) {
      if (comm.rank === 0) {
        const t0 = performance.now();
        await comm.send(buf, 1);
        await comm.recv(1, into);
        if (keep) samples[i] = performance.now() - t0;
      } else {
        await comm.recv(0, into);
        await comm.send(buf, 0);
      }
    }
  };
  await rounds(2000, false);
  await comm.barrier();
  const c0 = process.cpuUsage();
  await rounds(calls, true);
  const c = process.cpuUsage(c0);
  if (comm.rank === 0) {
    samples.sort();
    const at = (q) => +((samples[Math.floor(q * (calls - 1))] * 1000) / 2).toFixed(2);
    console.log(JSON.stringify({ p50_us: at(0.5), p10_us: at(0.1), min_us: at(0), p99_us: at(0.99), cpu_us_per_rt: +((c.user + c.system) / calls).toFixed(2) }));
  }
  await comm.close();
  process.exit(0);
}

const builds = [['this', root], ...(process.env.FMI_BENCH_BASE ? [['base', process.env.FMI_BENCH_BASE]] : [])];
const rows = [];
for (let rep = 0; rep < REPEAT; rep++) {
  for (const variant of VARIANTS) {
    if (!ENV[variant]) throw new Error(`FMI_BENCH_VARIANTS: ${variant} is not spin|block|loop`);
    for (const [build, dir] of builds) {
      const fmi = pathToFileURL(join(dir, 'dist', 'bundle', 'index.js')).href;
      const load = loadLine();
      const r = spawnSync(process.execPath, [join(dir, 'dist', 'cli', 'main.js'), 'run', '-n', '2', '--threads', '--no-prefix', fileURLToPath(import.meta.url), 'rank', fmi, String(CALLS)], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ...ENV[variant] },
        timeout: 600_000,
      });
      const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
      if (r.status !== 0 || !line) throw new Error(`shm-spin: ${build} ${variant} failed (${r.status}): ${r.stderr}`);
      const row = { bench: 'shm-spin', build, variant, ...JSON.parse(line), load };
      rows.push(row);
      process.stdout.write(JSON.stringify(row) + '\n');
    }
  }
}

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
process.stderr.write(`shm-spin: 8 B half round trip, medians of ${REPEAT} jobs (load now ${loadLine()})\n`);
process.stderr.write(`${'variant'.padEnd(8)} ${'build'.padEnd(6)} ${'p50 us'.padStart(8)} ${'p10 us'.padStart(8)} ${'min us'.padStart(8)} ${'cpu us/rt'.padStart(10)}\n`);
for (const variant of VARIANTS) {
  for (const [build] of builds) {
    const mine = rows.filter((r) => r.build === build && r.variant === variant);
    const col = (k) => median(mine.map((r) => r[k])).toFixed(2).padStart(k === 'cpu_us_per_rt' ? 10 : 8);
    process.stderr.write(`${variant.padEnd(8)} ${build.padEnd(6)} ${col('p50_us')} ${col('p10_us')} ${col('min_us')} ${col('cpu_us_per_rt')}\n`);
  }
}
