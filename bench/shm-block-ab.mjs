// Whether thread ranks should block in Atomics.wait before the event loop
// (the shm channel's blockUs): the same jobs under each setting, the
// settings alternated round by round (issue 13).
//   npm run build && node bench/shm-block-ab.mjs
//   FMI_BENCH_BASE=/tmp/base7 node bench/shm-block-ab.mjs   # and an earlier build, its defaults
//
// Jobs (each under every variant, every round):
//   pingpong   bench/pingpong.mjs 8 B and 1 KiB, `fmi run -n 2 --threads`: p50 half round trip
//   allreduce  bench/allreduce.mjs 1 KiB and 64 KiB (FMI_BENCH_INTO=1), `-n 4 --threads`: p50
//   barrier    bench/barrier.mjs, `-n 4 --threads`: p50
//   train-4    examples/train-sgd.mjs --epochs 1 --split-wait, `-n 4 --threads`: comm and total s
//   train-2    the same on `-n 2 --threads`
//   mixed      the same on `-n 4 --threads 2` (two processes of two thread ranks, direct
//              between them: their sockets must not wait on a blocked thread)
// Variants: FMI_BENCH_BLOCK_US (comma-separated FMI_SHM_BLOCK_US values;
// "default" sets none; default "default,0,200"), plus "base" with FMI_BENCH_BASE.
// FMI_BENCH_BLOCK_ENV=FMI_NODE_BLOCK_US: the variants set the node arena's
// bound instead of the channel's (the collectives' waits).
// FMI_BENCH_ROUNDS (default 2), FMI_BENCH_JOBS (comma-separated job names, default all),
// FMI_BENCH_MS (per size, default 500 here).
// stdout: {bench:"shm-block-ab",job,metric,variant,round,value,load} lines; stderr: a table of medians.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachLine, loadLine } from './lib/common.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.FMI_BENCH_ROUNDS ?? 2);
const BASE = process.env.FMI_BENCH_BASE;
const variants = (process.env.FMI_BENCH_BLOCK_US ?? 'default,0,200').split(',');
const BLOCK_ENV = process.env.FMI_BENCH_BLOCK_ENV ?? 'FMI_SHM_BLOCK_US';
if (BASE) variants.push('base');
const TRAIN = ['--epochs', '1', '--split-wait'];

/** Each job: its `fmi run` options, script (in the build run), arguments, environment, and what to read from its stdout. */
const JOBS = {
  pingpong: { n: ['-n', '2', '--threads'], script: 'bench/pingpong.mjs', env: { FMI_BENCH_SIZES: '8,1k' }, read: p50s },
  allreduce: { n: ['-n', '4', '--threads'], script: 'bench/allreduce.mjs', env: { FMI_BENCH_SIZES: '1k,64k', FMI_BENCH_INTO: '1' }, read: p50s },
  barrier: { n: ['-n', '4', '--threads'], script: 'bench/barrier.mjs', env: {}, read: p50s },
  'train-4': { n: ['-n', '4', '--threads'], script: 'examples/train-sgd.mjs', args: TRAIN, read: train },
  'train-2': { n: ['-n', '2', '--threads'], script: 'examples/train-sgd.mjs', args: TRAIN, read: train },
  mixed: { n: ['-n', '4', '--threads', '2'], script: 'examples/train-sgd.mjs', args: TRAIN, read: train },
};
const jobs = (process.env.FMI_BENCH_JOBS ?? Object.keys(JOBS).join(',')).split(',');

function p50s(lines) {
  return lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).map((r) => [`p50_us ${r.bytes ?? ''}`.trim(), r.p50_us]);
}

/** comm and total s of the result line; the epochs' waits at the barrier, allreduce times and the compute imbalance in the waits (--split-wait), summed (NaN: a build whose example does not print it). */
function train(lines) {
  const m = lines.map((l) => l.match(/\(comm ([\d.]+) s of ([\d.]+) s\)/)).find(Boolean);
  const split = lines.map((l) => l.match(/\(wait ([\d.]+) \+ allreduce ([\d.]+)(?:; compute imbalance ([\d.]+))?/)).filter(Boolean);
  const sum = (i) => +split.reduce((s, x) => s + Number(x[i] ?? NaN), 0).toFixed(2);
  return m ? [['comm_s', Number(m[1])], ['total_s', Number(m[2])], ['wait_s', sum(1)], ['allreduce_s', sum(2)], ['imbalance_s', sum(3)]] : [];
}

/** Runs one job under one variant; its metrics. */
function run(name, variant) {
  const j = JOBS[name];
  const dir = variant === 'base' ? BASE : root;
  const env = { ...process.env, FMI_BENCH_MS: process.env.FMI_BENCH_MS ?? '500', ...j.env };
  delete env[BLOCK_ENV];
  if (variant !== 'default' && variant !== 'base') env[BLOCK_ENV] = variant;
  const args = [join(dir, 'dist', 'cli', 'main.js'), 'run', ...j.n, '--no-prefix', join(dir, j.script), ...(j.args ?? [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'], env });
    const lines = [];
    const done = eachLine(child.stdout, (l) => lines.push(l));
    child.on('exit', (code) => void done.then(() => (code === 0 ? resolve(j.read(lines)) : reject(new Error(`${name} (${variant}) exited with ${code}`)))));
  });
}

const all = new Map();
process.stderr.write(`shm-block-ab: variants ${variants.join(', ')}, ${ROUNDS} rounds, load ${loadLine()}\n`);
for (let round = 0; round < ROUNDS; round++) {
  for (const name of jobs) {
    // Alternate the order too: the first of a pair may meet a different load than the second.
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const variant of order) {
      const load = loadLine();
      for (const [metric, value] of await run(name, variant)) {
        process.stdout.write(JSON.stringify({ bench: 'shm-block-ab', job: name, metric, variant, round, value, load }) + '\n');
        const k = `${name} ${metric}`;
        if (!all.has(k)) all.set(k, new Map());
        const by = all.get(k);
        by.set(variant, [...(by.get(variant) ?? []), value]);
      }
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
process.stderr.write(`\nmedians over ${ROUNDS} rounds (load now ${loadLine()})\n${'job metric'.padEnd(26)}${variants.map((v) => v.padStart(11)).join('')}\n`);
for (const [k, by] of all) process.stderr.write(`${k.padEnd(26)}${variants.map((v) => (by.has(v) ? median(by.get(v)).toFixed(1) : '-').padStart(11)).join('')}\n`);
