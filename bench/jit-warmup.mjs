// The warm-up curve of a small collective with every rank in one fresh
// process (real TCP over loopback; no scheduling between rank processes, so
// the CPU figures hold up under load), for this build and an earlier one
// (FMI_BENCH_BASE, built), a fresh process each time, the builds in turns.
// Per window of calls from the first one: CPU per call of all ranks on the
// main thread (the JS: interpreted, baseline, then optimized code) and on the
// other threads (V8's compile and GC threads). Not part of the driver.
//   FMI_BENCH_BASE=/tmp/base11 node bench/jit-warmup.mjs
//
// Environment: OP (allreduce or barrier, default allreduce), BYTES (default
// 1024), RANKS (default 4), WINDOW (calls per window, default 250), WINDOWS
// (default 8), REPEAT (processes per build, default 5), FLAGS (node flags of
// the processes, e.g. --maglev or --max-opt=1).
// stdout: one JSON line per build with the median per window over REPEAT
// processes ("main+other" µs per call).

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const OP = process.env.OP || 'allreduce';
const BYTES = Number(process.env.BYTES || 1024);
const RANKS = Number(process.env.RANKS || 4);
const WINDOW = Number(process.env.WINDOW || 250);
const WINDOWS = Number(process.env.WINDOWS || 8);
const REPEAT = Number(process.env.REPEAT || 5);
const FLAGS = (process.env.FLAGS || '').split(' ').filter(Boolean);
const here = fileURLToPath(new URL('.', import.meta.url));

if (process.argv[2] === '--child') await child(process.argv[3]);
else await parent();

async function child(dist) {
  const { init, RendezvousServer, Op } = await import(pathToFileURL(join(dist, 'index.js')).href);
  const server = new RendezvousServer();
  const addr = await server.listen();
  const job = randomUUID();
  const comms = await Promise.all(Array.from({ length: RANKS }, (_, rank) => init({ rank, size: RANKS, job, rendezvous: addr, env: {} })));
  const data = comms.map((c) => new Float64Array(Math.max(1, BYTES / 8)).fill(c.rank + 1));
  const call = OP === 'barrier' ? () => Promise.all(comms.map((c) => c.barrier())) : () => Promise.all(comms.map((c, r) => c.allreduce(data[r], Op.SUM)));
  const mainCpu = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  const windows = [];
  for (let w = 0; w < WINDOWS; w++) {
    const all0 = process.cpuUsage();
    const main0 = mainCpu();
    for (let i = 0; i < WINDOW; i++) await call();
    const all = process.cpuUsage(all0);
    const main = mainCpu() - main0;
    windows.push([main / WINDOW, (all.user + all.system - main) / WINDOW]);
  }
  console.log(JSON.stringify(windows));
  await Promise.all(comms.map((c) => c.close()));
  await server.close();
}

async function parent() {
  const builds = [['this', join(here, '../dist')]];
  if (process.env.FMI_BENCH_BASE) builds.push(['base', join(process.env.FMI_BENCH_BASE, 'dist')]);
  const runs = builds.map(() => []);
  for (let r = 0; r < REPEAT; r++) {
    for (let k = 0; k < builds.length; k++) {
      const i = (k + r) % builds.length;
      const p = spawn(process.execPath, [...FLAGS, fileURLToPath(import.meta.url), '--child', builds[i][1]], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (s) => (out += s));
      await new Promise((res) => p.on('exit', res));
      runs[i].push(JSON.parse(out.trim().split('\n').pop()));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  builds.forEach(([label], i) => {
    const curve = Array.from({ length: WINDOWS }, (_, w) => `${(w + 1) * WINDOW}: ${median(runs[i].map((x) => x[w][0])).toFixed(0)}+${median(runs[i].map((x) => x[w][1])).toFixed(0)}`);
    const first = median(runs[i].map((x) => x.slice(0, 2).reduce((s, [m, o]) => s + m + o, 0) / 2));
    console.log(JSON.stringify({ bench: 'jit-warmup', op: OP, bytes: BYTES, ranks: RANKS, flags: FLAGS.join(' '), build: label, first2_us: +first.toFixed(0), curve: curve.join(', '), load: loadavg()[0].toFixed(1) }));
  });
}
