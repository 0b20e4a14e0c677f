// What V8 compiles in a rank of a small collective: runs the ranks of
// bench/coll-probe.mjs under `node --trace-opt --trace-deopt` (flags that
// NODE_OPTIONS does not allow, so `fmi run` cannot pass them), for this
// build and an earlier one (FMI_BENCH_BASE, built) in turns, and counts per
// rank the functions optimized, the optimizations (a function optimized
// again after a deopt counts twice) and the deopts up to the end of the
// probe's measured calls (and the deopts in the warm-up calls alone: the rest
// come where the probe switches to a barrier and back), with the functions
// compiled most often and each deopt's function, bytecode offset and reason.
// compile_ms sums V8's own figure for each compile job on its thread (wall
// time there, so it grows with the load). Counts do not depend on the
// load; the CPU per call the probe prints does. Not part of the driver.
//   OP=allreduce BYTES=1024 WARMUP=500 N=2000 node bench/jit-trace.mjs
//   FMI_BENCH_BASE=/tmp/base11 REPEAT=3 node bench/jit-trace.mjs
//
// Environment: the probe's (OP, BYTES, WARMUP, N), RANKS (default 4),
// REPEAT (runs per build, default 1), FLAGS (node flags instead of the
// trace flags, e.g. FLAGS=--maglev to see another compiler's curve: counts
// then only come from the trace flags if they are among them), TOP (default 12).

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const RANKS = Number(process.env.RANKS || 4);
const REPEAT = Number(process.env.REPEAT || 1);
const TOP = Number(process.env.TOP || 12);
const FLAGS = (process.env.FLAGS ?? '--trace-opt --trace-deopt').split(' ').filter(Boolean);

// One job of RANKS ranks of the probe on the build at root; its own rendezvous server.
async function job(root) {
  const { RendezvousServer } = await import(pathToFileURL(join(root, 'dist/index.js')).href);
  const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
  const addr = await server.listen();
  const jobId = randomUUID();
  const outs = await Promise.all(
    Array.from({ length: RANKS }, (_, rank) => {
      const child = spawn(process.execPath, [...FLAGS, join(here, 'coll-probe.mjs')], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, MARKS: '1', FMI_DIST: join(root, 'dist/index.js'), FMI_RANK: String(rank), FMI_SIZE: String(RANKS), FMI_JOB: jobId, FMI_RENDEZVOUS: `${addr.host}:${addr.port}` },
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s) => (out += s));
      return new Promise((res) => child.on('exit', (code) => res({ code, out })));
    }),
  );
  await server.close();
  return outs;
}

// V8's trace lines (Node 20-24): "[completed optimizing 0x... <JSFunction name (sfi = 0x...)> (target TURBOFAN)]",
// before it "[completed compiling ... - took 0.089, 12.887, 0.041 ms]" (the middle figure: the compile
// thread's time, wall), and "[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing
// 0x... <JSFunction name (sfi = ...)>, ..., bytecode offset 181, ...]". Counted up to the probe's
// "[probe measured]" line (the warm-up and the measured calls; what comes after is the probe's end).
const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
const name = (line) => /<JSFunction ([^ >]*)/.exec(line)?.[1] || '(anonymous)';
export function countTrace(text) {
  const opt = new Map();
  const deopt = new Map();
  const reasons = new Map();
  let compileMs = 0;
  let warmDeopts = -1;
  const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1);
  for (const line of text.split('\n')) {
    if (line.startsWith('[probe measured]')) break;
    if (line.startsWith('[probe warmed up]')) warmDeopts = sum(deopt);
    if (line.startsWith('[completed optimizing')) bump(opt, name(line));
    else if (line.startsWith('[completed compiling')) compileMs += Number(/took [\d.]+, ([\d.]+)/.exec(line)?.[1] ?? 0);
    else if (line.startsWith('[bailout (kind: deopt')) {
      bump(deopt, name(line));
      bump(reasons, `${name(line)} @${/bytecode offset (\d+)/.exec(line)?.[1]}: ${/reason: ([^)]*)/.exec(line)?.[1]}`);
    }
  }
  return { opt, deopt, reasons, compileMs, warmDeopts };
}
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, v]) => `${k} ${v}`).join(', ');

const builds = [['this', join(here, '..')]];
if (process.env.FMI_BENCH_BASE) builds.push(['base', process.env.FMI_BENCH_BASE]);
process.stderr.write(`jit-trace: ${process.env.OP || 'allreduce'} ${process.env.BYTES || 1024}B, ${RANKS} ranks, warm-up ${process.env.WARMUP || 500}, N ${process.env.N || 2000}, flags ${FLAGS.join(' ')}, ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
for (let r = 0; r < REPEAT; r++) {
  for (const [label, root] of builds) {
    const outs = await job(root);
    for (const [rank, { code, out }] of outs.entries()) {
      const { opt, deopt, reasons, compileMs, warmDeopts } = countTrace(out);
      const probe = out.split('\n').filter((l) => /^(rank \d|\d+ ranks:)/.test(l));
      const row = { build: label, rank, code, functions: opt.size, optimizations: sum(opt), deopts: sum(deopt), deopts_in_warmup: warmDeopts, compile_ms: Math.round(compileMs) };
      console.log(JSON.stringify(row));
      if (process.env.DETAIL === '1' || rank === 0) {
        console.log(`  most compiled: ${top(opt)}`);
        console.log(`  deopted: ${top(deopt)}`);
        console.log(`  deopts: ${top(reasons)}`);
      }
      for (const l of probe) console.log(`  ${l}`);
    }
  }
}
