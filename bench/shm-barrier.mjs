// The barrier of thread ranks against its floor: fmi's comm.barrier() on
// `fmi run -n N --threads` (the node arena's sync), the same on an earlier
// build (FMI_BENCH_BASE), and bare counter barriers between N worker threads
// with no fmi in them, alternated in one run (issue 13):
//   npm run build && node bench/shm-barrier.mjs
//
// Rows:
//   fmi        comm.barrier() back to back on this build, by default (the
//              chain release up to 4 thread ranks, all at once above)
//   fmi-chain  the same with FMI_NODE_WAKE=chain (a sync's last rank wakes
//              one waiter, each woken one the next)
//   fmi-all    the same with FMI_NODE_WAKE=all (one notify wakes all)
//   base       the same on FMI_BENCH_BASE=DIR (an earlier checkout, built)
//   bare-wait  a counter barrier: Atomics.add, the last arriver bumps a
//              generation word and wakes all with one Atomics.notify, the
//              others block in Atomics.wait (no timeout): V8's floor
//   bare-async the same wait inside an async function awaited by the loop
//              (two promise hops per barrier, as a library call has)
//   bare-chain the last arriver wakes one waiter, each woken one the next
//              (count 1), all on the generation word (the woken order is
//              the waiters' FIFO order; a late waker may wake a waiter of
//              the next barrier in vain)
//   bare-chain2 the same on a word per generation's parity (fmi-chain's way)
// FMI_BENCH_OP=pingpong: the fmi and base rows only, an 8 B round trip
// (send, recv) between 2 thread ranks instead of a barrier (the floor is
// bench/shm-wake.mjs's `wait` row).
// Each row: wall time per barrier (the loop's mean at rank 0 / thread 0) and
// the process's CPU (user + system, all threads) per barrier, over the same
// loop; a row is the median of FMI_BENCH_REPEAT jobs (default 3), taken in
// turns. FMI_BENCH_ROUNDS barriers per job (default 20000; 2000 more warm
// up), FMI_BENCH_RANKS (default 4), FMI_BENCH_IMPLS (rows to run, e.g.
// fmi,base).
// stdout: {bench:"shm-barrier", impl, ranks, rounds, us, cpu_us} per job; stderr: a table.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { loadLine } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.FMI_BENCH_ROUNDS ?? 20000);
const WARM = 2000;
const OP = process.env.FMI_BENCH_OP ?? 'barrier';
const N = OP === 'pingpong' ? 2 : Number(process.env.FMI_BENCH_RANKS ?? 4);
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 3);
// Words of the bare barrier: the arrivals' count and the generation, a cache line apart.
const COUNT = 0;
const GEN = 16;
const PARITY = 32;

if (process.argv[2] === 'rank') await rank();
else if (!isMainThread) bareThread(workerData);
else await main();

/** One rank of `fmi run --threads`: the fmi package named by FMI_BENCH_FMI (a build's dist/index.js), else this checkout's. */
async function rank() {
  const { init } = await import(process.env.FMI_BENCH_FMI ? pathToFileURL(process.env.FMI_BENCH_FMI).href : 'fmi');
  const comm = await init();
  const once = OP === 'pingpong' ? pingpong(comm) : () => comm.barrier();
  for (let i = 0; i < WARM; i++) await once();
  const each = new Float64Array(ROUNDS);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0, t = t0; i < ROUNDS; i++) {
    await once();
    each[i] = -t + (t = performance.now());
  }
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  each.sort();
  const tail = { p50_us: +(each[ROUNDS >> 1] * 1000).toFixed(1), p99_us: +(each[Math.floor(ROUNDS * 0.99)] * 1000).toFixed(1), over_1ms: each.filter((x) => x > 1).length };
  if (comm.rank === 0) process.stdout.write(JSON.stringify({ ...result('fmi', wall, cpu), ...tail }) + '\n');
  await comm.close();
}

/** One 8 B round trip between ranks 0 and 1, received into the same array each time. */
function pingpong(comm) {
  const buf = new Uint8Array(8);
  const into = { into: buf };
  return comm.rank === 0
    ? async () => {
        await comm.send(buf, 1);
        await comm.recv(1, into);
      }
    : async () => {
        await comm.recv(0, into);
        await comm.send(buf, 0);
      };
}

function result(impl, wallMs, cpu) {
  return { bench: 'shm-barrier', op: OP, impl, ranks: N, rounds: ROUNDS, us: +((wallMs * 1000) / ROUNDS).toFixed(2), cpu_us: +((cpu.user + cpu.system) / ROUNDS).toFixed(2) };
}

/** A job of `fmi run -n N --threads` on the build in `dir`; resolves to its result line. */
function fmiJob(impl, dir, extra = {}) {
  const args = [join(dir, 'dist', 'cli', 'main.js'), 'run', '-n', String(N), '--threads', '--no-prefix', fileURLToPath(import.meta.url), 'rank'];
  const env = { ...process.env, FMI_BENCH_FMI: dir === join(here, '..') ? '' : join(dir, 'dist', 'index.js'), ...extra };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`${impl}: exited with ${code}`));
      resolve({ ...JSON.parse(line), impl });
    });
  });
}

/** N worker threads running a bare counter barrier; resolves to thread 0's result. */
function bareJob(impl) {
  const sab = new SharedArrayBuffer(512);
  const workers = Array.from({ length: N }, (_, i) => new Worker(fileURLToPath(import.meta.url), { workerData: { sab, i, impl } }));
  return new Promise((resolve, reject) => {
    let got;
    let left = N;
    for (const w of workers) {
      w.once('error', reject);
      w.on('message', (m) => (got = m));
      w.once('exit', () => {
        if (--left > 0) return;
        resolve(result(impl, got.wall, got.cpu));
      });
    }
  });
}

function bareThread({ sab, i, impl }) {
  const a = new Int32Array(sab);
  const barrier = () => {
    const g = Atomics.load(a, GEN);
    if (Atomics.add(a, COUNT, 1) === N - 1) {
      Atomics.store(a, COUNT, 0);
      Atomics.add(a, GEN, 1);
      Atomics.notify(a, GEN);
      return;
    }
    while (Atomics.load(a, GEN) === g) Atomics.wait(a, GEN, g);
  };
  const chain = () => {
    const g = Atomics.load(a, GEN);
    if (Atomics.add(a, COUNT, 1) === N - 1) {
      Atomics.store(a, COUNT, 0);
      Atomics.add(a, GEN, 1);
      Atomics.notify(a, GEN, 1);
      return;
    }
    while (Atomics.load(a, GEN) === g) Atomics.wait(a, GEN, g);
    Atomics.notify(a, GEN, 1);
  };
  // The chain on two words, one per generation's parity: a late waker's notify cannot reach the next generation's waiters.
  const chain2 = () => {
    const g = Atomics.load(a, GEN);
    const w = PARITY + 16 * (g & 1);
    if (Atomics.add(a, COUNT, 1) === N - 1) {
      Atomics.store(a, COUNT, 0);
      Atomics.store(a, GEN, g + 1);
      Atomics.store(a, w, g + 1);
      Atomics.notify(a, w, 1);
      return;
    }
    for (let v = Atomics.load(a, w); v !== g + 1; v = Atomics.load(a, w)) Atomics.wait(a, w, v);
    Atomics.notify(a, w, 1);
  };
  const asyncBarrier = async () => barrier();
  const run = async () => {
    const once = impl === 'bare-async' ? asyncBarrier : impl === 'bare-chain' ? chain : impl === 'bare-chain2' ? chain2 : barrier;
    for (let k = 0; k < WARM; k++) await once();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    if (impl === 'bare-async') for (let k = 0; k < ROUNDS; k++) await asyncBarrier();
    else for (let k = 0; k < ROUNDS; k++) once();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (i === 0) parentPort.postMessage({ wall, cpu });
  };
  void run();
}

async function main() {
  const base = process.env.FMI_BENCH_BASE;
  const impls = [['fmi', () => fmiJob('fmi', join(here, '..'))]];
  if (OP === 'barrier') {
    impls.push(['fmi-chain', () => fmiJob('fmi-chain', join(here, '..'), { FMI_NODE_WAKE: 'chain' })]);
    impls.push(['fmi-all', () => fmiJob('fmi-all', join(here, '..'), { FMI_NODE_WAKE: 'all' })]);
  }
  if (base) impls.push(['base', () => fmiJob('base', base)]);
  if (OP === 'barrier') impls.push(['bare-wait', () => bareJob('bare-wait')], ['bare-async', () => bareJob('bare-async')], ['bare-chain', () => bareJob('bare-chain')], ['bare-chain2', () => bareJob('bare-chain2')]);
  const only = process.env.FMI_BENCH_IMPLS?.split(',');
  if (only) impls.splice(0, impls.length, ...impls.filter(([name]) => only.includes(name)));
  process.stderr.write(`shm-barrier: ${OP}, ${N} threads, ${ROUNDS} per job, ${REPEAT} jobs each in turns, load ${loadLine()}\n`);
  const rows = new Map(impls.map(([name]) => [name, []]));
  for (let r = 0; r < REPEAT; r++) {
    for (const [name, job] of impls) {
      const res = { ...(await job()), load: loadLine() };
      process.stdout.write(JSON.stringify(res) + '\n');
      rows.get(name).push(res);
    }
  }
  const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  process.stderr.write(`${'impl'.padEnd(11)} ${`us/${OP === 'pingpong' ? 'rt' : 'barrier'}`.padStart(11)} ${'cpu us'.padStart(8)}  (median of ${REPEAT}; all: us | cpu)  load now ${loadLine()}\n`);
  for (const [name, rs] of rows) {
    process.stderr.write(`${name.padEnd(11)} ${med(rs.map((x) => x.us)).toFixed(1).padStart(11)} ${med(rs.map((x) => x.cpu_us)).toFixed(1).padStart(8)}  ${rs.map((x) => x.us.toFixed(1)).join(' ')} | ${rs.map((x) => x.cpu_us.toFixed(1)).join(' ')}\n`);
  }
}
