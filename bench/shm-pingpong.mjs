// Ping-pong over shared memory between two thread ranks, next to the direct
// channel between two processes, and the main job with and without threads.
//   npm run build && node bench/shm-pingpong.mjs
//
// Runs bench/pingpong.mjs four times, 8 B .. 4 MiB: `fmi run -n 2 --threads`
// by default (column "shm block": a waiting operation blocks its thread in
// Atomics.wait up to 5 ms, then Atomics.waitAsync), the same with
// FMI_SHM_BLOCK_US=0 (column "shm loop": the event loop only, Atomics.waitAsync), with
// FMI_SHM_SPIN_US (the opt-in spin before the blocking wait), with
// FMI_BENCH_SHARED=1 (column "shm shared": buffers from sharedArray(), which
// the channel copies with Wasm memory.copy), the same with FMI_SHM_LEND=1
// (column "shm lent": one copy out of the sender's array, variant "u8,shared,lent"), and
// `fmi run -n 2` (two processes, the direct channel). Then measures this machine's memcpy
// bandwidth (Uint8Array.set of 4 MiB, best of several) for issue 13's goals:
// 8 B <= 3 us half round trip, 4 MiB >= memcpy / 2. With FMI_BENCH_TRAIN=1
// it also runs examples/train-sgd.mjs on 4 ranks as processes and as
// threads (--threads) and reports their `comm X s of Y s` lines.
//
// Environment: FMI_BENCH_QUICK, FMI_BENCH_MS, FMI_BENCH_SIZES (see
// bench/README.md); FMI_BENCH_SPIN_US=50 (the spinning variant; 0: skip it);
// FMI_BENCH_TRAIN=1; FMI_BENCH_TIMEOUT_S=600 per run; FMI_BENCH_BASE=DIR (an
// earlier fmi checkout, built: its thread ranks run this script's ping-pong
// too, by default settings, column "base loop", variant "u8,base"; and
// with shared arrays, column "base shared", variant "u8,shared,base");
// FMI_BENCH_FLOORS=0 skips the floors: bench/shm-wake.mjs's wait, wait@5,
// wait+js, waitAsync and futex-c rows (FMI_BENCH_ROUNDS, default 5000 here),
// run in the same script so the 8 B line splits the default's time into the
// wake-up V8 gives (Atomics.wait; waitAsync for the event-loop run) and fmi's
// own part; wait@5 is the wait with the default's 5 ms bound (on an idle
// machine a timed wait may cost the kernel a timer to program each time),
// wait+js the wait with 3 us of work after each notify (what fmi does there).
// stdout: pingpong.mjs's JSON lines (channel "shm" or "direct", variant
// "u8", "u8,loop" for the event-loop-only run, "u8,spin" for the spinning run, "u8,shared" with shared arrays), one line {bench:"memcpy"} and, with
// FMI_BENCH_TRAIN, {bench:"train-sgd"} lines; stderr: a table.

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachLine, fmtBytes, isOn, loadLine } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const SPIN_US = Number(process.env.FMI_BENCH_SPIN_US ?? 50);
const TIMEOUT_MS = Number(process.env.FMI_BENCH_TIMEOUT_S ?? 600) * 1000;

/** Runs a command; resolves to its stdout lines (JSON ones parsed), passing them through. */
function job(args, env = {}, relabel = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    const timer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS);
    const lines = [];
    const done = eachLine(child.stdout, (line) => {
      let r = line;
      if (line.startsWith('{')) {
        r = { ...JSON.parse(line), ...relabel };
        process.stdout.write(JSON.stringify(r) + '\n');
      }
      lines.push(r);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      void done.then(() => (code === 0 ? resolve(lines) : reject(new Error(`${args.join(' ')} exited with ${code}`))));
    });
  });
}

function memcpyMBs() {
  const n = 4 * 1024 * 1024;
  const a = new Uint8Array(n).fill(1);
  const b = new Uint8Array(n);
  let best = Infinity;
  for (let round = 0; round < 20; round++) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) b.set(a);
    best = Math.min(best, (performance.now() - t0) / 10);
  }
  return n / (best * 1000);
}

/**
 * 4 MiB copies with and without shared memory (best of several, MB/s): a
 * message between thread ranks crosses a SharedArrayBuffer, and V8 copies
 * to and from one with relaxed atomic word moves, not memcpy. Wasm's
 * memory.copy inside a shared memory is memcpy again, and so is Buffer#fill
 * with a buffer as long as the range (copyBytes, channels/shm/copy-bytes.ts).
 */
function copyRates() {
  const n = 4 * 1024 * 1024;
  const best = (f) => {
    let b = Infinity;
    for (let round = 0; round < 20; round++) {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) f();
      b = Math.min(b, (performance.now() - t0) / 5);
    }
    return Math.round(n / (b * 1000));
  };
  const ab = new Uint8Array(n).fill(1);
  const ab2 = new Uint8Array(n);
  const sab = new Uint8Array(new SharedArrayBuffer(2 * n)).fill(2, 0, n);
  const sabView = sab.subarray(0, n);
  const buf = Buffer.from(sab.buffer);
  // (module (import "m" "m" (memory 64 128 shared)) (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy))
  const memory = new WebAssembly.Memory({ initial: 128, maximum: 128, shared: true });
  const code = [0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 3, 127, 127, 127, 0, 2, 11, 1, 1, 109, 1, 109, 2, 3, 128, 1, 128, 1, 3, 2, 1, 0, 7, 8, 1, 4, 99, 111, 112, 121, 0, 0, 10, 14, 1, 12, 0, 32, 0, 32, 1, 32, 2, 252, 10, 0, 0, 11];
  const wasm = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(code)), { m: { m: memory } }).exports;
  return [
    ['ab', 'ab', 'TypedArray.set', best(() => ab2.set(ab))],
    ['sab', 'ab', 'TypedArray.set', best(() => ab2.set(sabView))],
    ['ab', 'sab', 'TypedArray.set', best(() => sab.set(ab, n))],
    ['sab', 'ab', 'Buffer.copy', best(() => buf.copy(ab2, 0, 0, n))],
    ['sab', 'ab', 'Buffer#fill', best(() => Buffer.from(ab2.buffer).fill(sabView))],
    ['ab', 'sab', 'Buffer#fill', best(() => Buffer.from(sab.buffer, n, n).fill(ab))],
    ['sab', 'sab', 'copyWithin', best(() => sab.copyWithin(n, 0, n))],
    ['sab', 'sab', 'wasm memory.copy', best(() => wasm.copy(n, 0, n))],
  ].map(([from, to, primitive, mb_s]) => ({ bench: 'copy', from, to, primitive, bytes: n, mb_s }));
}

const pingpong = join(here, 'pingpong.mjs');
process.stderr.write(`shm-pingpong: load ${loadLine()}\n`);
const shm = await job([cli, 'run', '-n', '2', '--threads', '--no-prefix', pingpong]);
const loop = await job([cli, 'run', '-n', '2', '--threads', '--no-prefix', pingpong], { FMI_SHM_BLOCK_US: '0' }, { variant: 'u8,loop' });
const shared = await job([cli, 'run', '-n', '2', '--threads', '--no-prefix', pingpong], { FMI_BENCH_SHARED: '1' });
const lent = await job([cli, 'run', '-n', '2', '--threads', '--no-prefix', pingpong], { FMI_BENCH_SHARED: '1', FMI_SHM_LEND: '1' }, { variant: 'u8,shared,lent' });
const spin = SPIN_US > 0 ? await job([cli, 'run', '-n', '2', '--threads', '--no-prefix', pingpong], { FMI_SHM_SPIN_US: String(SPIN_US) }, { variant: 'u8,spin' }) : [];
const direct = await job([cli, 'run', '-n', '2', '--no-prefix', pingpong]);
const floors = isOn(process.env.FMI_BENCH_FLOORS ?? '1')
  ? await job([join(here, 'shm-wake.mjs')], { FMI_BENCH_WAKE: 'wait,wait@5,wait+js,waitAsync,futex-c', FMI_BENCH_ROUNDS: process.env.FMI_BENCH_ROUNDS ?? '5000' }).catch((err) => {
      process.stderr.write(`shm-pingpong: no floors (${err.message})\n`);
      return [];
    })
  : [];
const baseDir = process.env.FMI_BENCH_BASE;
// The base's own pingpong.mjs: its `import 'fmi'` resolves to the base's package.
const baseRun = (env, variant) => job([join(baseDir, 'dist', 'cli', 'main.js'), 'run', '-n', '2', '--threads', '--no-prefix', join(baseDir, 'bench', 'pingpong.mjs')], env, { variant });
const base = baseDir ? await baseRun({ FMI_SHM_BLOCK_US: '0' }, 'u8,base') : [];
const baseShared = baseDir ? await baseRun({ FMI_BENCH_SHARED: '1' }, 'u8,shared,base') : [];
const memcpy = memcpyMBs();
process.stdout.write(JSON.stringify({ bench: 'memcpy', bytes: 4 * 1024 * 1024, mb_s: Math.round(memcpy) }) + '\n');
const copies = copyRates();
for (const c of copies) process.stdout.write(JSON.stringify(c) + '\n');

const by = (rows) => new Map(rows.filter((r) => typeof r === 'object').map((r) => [r.bytes, r]));
const [S, L, P, D, B, H, BH, LT] = [by(shm), by(loop), by(spin), by(direct), by(base), by(shared), by(baseShared), by(lent)];
const cell = (r) => (r ? `${r.p50_us.toFixed(1)} us`.padStart(11) : '-'.padStart(11));
process.stderr.write(`\nhalf round trip p50 (load now ${loadLine()}); memcpy ${Math.round(memcpy)} MB/s\n`);
process.stderr.write(`${'bytes'.padEnd(8)} ${'shm block'.padStart(11)} ${'shm loop'.padStart(11)} ${`shm spin`.padStart(11)} ${'shm shared'.padStart(11)} ${'shm lent'.padStart(11)} ${'direct'.padStart(11)} ${'base loop'.padStart(11)} ${'base shared'.padStart(11)} ${'loop MB/s'.padStart(10)} direct/loop\n`);
for (const [bytes, s] of S) {
  const d = D.get(bytes);
  const l = L.get(bytes) ?? s;
  process.stderr.write(`${fmtBytes(bytes).padEnd(8)} ${cell(s)} ${cell(L.get(bytes))} ${cell(P.get(bytes))} ${cell(H.get(bytes))} ${cell(LT.get(bytes))} ${cell(d)} ${cell(B.get(bytes))} ${cell(BH.get(bytes))} ${String(Math.round(l.mb_s)).padStart(10)} ${d ? (d.p50_us / l.p50_us).toFixed(1) + 'x' : '-'}\n`);
}
const small = S.get(8);
const large = S.get(4 * 1024 * 1024);
if (small) process.stderr.write(`goal 8 B <= 3 us: ${small.p50_us.toFixed(1)} us by default (blocking up to 5 ms first; event loop only ${L.get(8)?.p50_us.toFixed(1) ?? '-'} us, spin ${P.get(8)?.p50_us.toFixed(1) ?? '-'} us)\n`);
const floor = new Map(floors.filter((r) => r?.bench === 'shm-wake').map((r) => [r.mechanism, r.p50_us]));
const own = (row, mech) => (row && floor.has(mech) ? `${row.p50_us.toFixed(1)} us = ${mech} ${floor.get(mech).toFixed(1)} + fmi ${(row.p50_us - floor.get(mech)).toFixed(1)}` : '-');
if (small && floor.size > 0) {
  process.stderr.write(`8 B against the bare wake-up (bench/shm-wake.mjs, same run; futex-c ${floor.get('futex-c')?.toFixed(1) ?? '-'} us, wait@5 ${floor.get('wait@5')?.toFixed(1) ?? '-'}, wait+js ${floor.get('wait+js')?.toFixed(1) ?? '-'}): default ${own(small, 'wait')}; event loop only ${own(L.get(8), 'waitAsync')}\n`);
}
process.stderr.write(`4 MiB copies, MB/s: ${copies.map((c) => `${c.from}->${c.to} ${c.primitive} ${c.mb_s}`).join(', ')}\n`);
const baseLarge = BH.get(4 * 1024 * 1024);
if (large) process.stderr.write(`goal 4 MiB >= memcpy/2 = ${Math.round(memcpy / 2)} MB/s: ${Math.round(large.mb_s)} MB/s by default, ${Math.round(H.get(4 * 1024 * 1024)?.mb_s ?? 0)} MB/s with shared arrays, ${Math.round(LT.get(4 * 1024 * 1024)?.mb_s ?? 0)} MB/s lent${baseLarge ? ` (base ${Math.round(baseLarge.mb_s)})` : ''}\n`);

if (isOn(process.env.FMI_BENCH_TRAIN)) {
  const train = join(root, 'examples', 'train-sgd.mjs');
  for (const [mode, extra] of [['processes', []], ['threads', ['--threads']]]) {
    const out = await job([cli, 'run', '-n', '4', ...extra, '--no-prefix', train]);
    const m = out.map(String).map((l) => l.match(/result: .*\(comm ([\d.]+) s of ([\d.]+) s\)/)).find(Boolean);
    if (!m) throw new Error(`train-sgd (${mode}) printed no result line`);
    const r = { bench: 'train-sgd', ranks: 4, mode, comm_s: Number(m[1]), total_s: Number(m[2]) };
    process.stdout.write(JSON.stringify(r) + '\n');
    process.stderr.write(`train-sgd, 4 ranks as ${mode}: comm ${r.comm_s} s of ${r.total_s} s (${((100 * r.comm_s) / r.total_s).toFixed(0)} %)\n`);
  }
}
