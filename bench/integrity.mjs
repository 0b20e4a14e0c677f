// What the opt-in payload checks cost on the direct channel: ping-pong with
// FMI_INTEGRITY=none, crc32 and hmac, one `fmi run -n 2` job per mode, the
// modes alternated FMI_BENCH_ROUNDS times (default 3; the median is shown).
//   node bench/integrity.mjs
//
// Environment: FMI_BENCH_SIZES (default 8,64k,1m,4m), FMI_BENCH_MS,
// FMI_BENCH_ROUNDS, FMI_BENCH_BASE=DIR (an earlier checkout, built: the same
// jobs on it, right after each of this tree's). stdout: the rank's JSON lines
// (with `tree`: this or base); stderr: a table of p50 (half a round trip) and
// CPU per round trip of both ranks, each as a ratio to 'none'.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLine } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const MODES = ['none', 'crc32', 'hmac'];
const ROUNDS = Number(process.env.FMI_BENCH_ROUNDS ?? 3);
const trees = [{ name: 'this', cli: join(here, '../dist/cli/main.js'), script: join(here, 'integrity-rank.mjs') }];
const baseDir = process.env.FMI_BENCH_BASE;
if (baseDir) {
  if (!existsSync(join(baseDir, 'dist/cli/main.js'))) throw new Error(`FMI_BENCH_BASE=${baseDir}: dist/cli/main.js missing (build it there first)`);
  // Copied into the base checkout so that its `import 'fmi'` is the old code.
  const to = join(baseDir, '.bench-integrity');
  mkdirSync(join(to, 'lib'), { recursive: true });
  cpSync(join(here, 'integrity-rank.mjs'), join(to, 'integrity-rank.mjs'));
  cpSync(join(here, 'lib/common.mjs'), join(to, 'lib/common.mjs'));
  trees.push({ name: 'base', cli: join(baseDir, 'dist/cli/main.js'), script: join(to, 'integrity-rank.mjs') });
}
// A fixed secret: 'hmac' needs one, and fmi run would make a new one anyway.
const env = { ...process.env, FMI_SECRET: process.env.FMI_SECRET ?? 'integrity-bench-secret-0123456789' };

const rows = new Map();
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of MODES) {
    for (const t of trees) {
      process.stderr.write(`round ${r + 1}/${ROUNDS} ${t.name} ${mode} (load ${loadLine()})\n`);
      const out = spawnSync(process.execPath, [t.cli, 'run', '-n', '2', '--no-prefix', t.script], { env: { ...env, FMI_INTEGRITY: mode }, encoding: 'utf8', timeout: 300_000 });
      if (out.status !== 0) throw new Error(`${t.name} ${mode}: exit ${out.status}\n${out.stderr}`);
      for (const line of out.stdout.split('\n').filter((l) => l.startsWith('{'))) {
        const row = { ...JSON.parse(line), tree: t.name };
        process.stdout.write(`${JSON.stringify(row)}\n`);
        const k = `${t.name} ${row.bytes} ${mode}`;
        if (!rows.has(k)) rows.set(k, []);
        rows.get(k).push(row);
      }
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const fig = (k, f) => (rows.has(k) ? median(rows.get(k).map(f)) : NaN);
process.stderr.write(`\nmedian of ${ROUNDS} rounds; p50 = half round trip, cpu = both ranks per round trip (µs); load now ${loadLine()}\n`);
process.stderr.write(`tree  bytes     ${MODES.map((m) => `${m} p50 / cpu`.padEnd(26)).join('')}\n`);
for (const t of trees) {
  for (const bytes of [...new Set([...rows.keys()].filter((k) => k.startsWith(`${t.name} `)).map((k) => Number(k.split(' ')[1])))]) {
    const base = { p50: fig(`${t.name} ${bytes} none`, (x) => x.p50_us), cpu: fig(`${t.name} ${bytes} none`, (x) => x.cpu_us_per_rt) };
    const cells = MODES.map((m) => {
      const p = fig(`${t.name} ${bytes} ${m}`, (x) => x.p50_us);
      const c = fig(`${t.name} ${bytes} ${m}`, (x) => x.cpu_us_per_rt);
      return `${p.toFixed(0)} (${(p / base.p50).toFixed(2)}x) / ${c} (${(c / base.cpu).toFixed(2)}x)`.padEnd(26);
    });
    process.stderr.write(`${t.name.padEnd(6)}${String(bytes).padEnd(10)}${cells.join('')}\n`);
  }
}
