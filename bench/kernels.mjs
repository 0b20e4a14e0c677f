// Reduction kernel throughput: Wasm SIMD in place vs plain JS loops vs native C.
// Run after `npm run build`:  node bench/kernels.mjs
//
// stdout: one JSON line per result
//   {bench:'kernel', op, type, bytes, impl, gb_s}            impl: wasm | wasm-copy | js | c | c128 | c-o3
//   {bench:'kernel-threshold', op, type, n, impl, ns}        impl: wasm | js (per call)
// gb_s counts one operand's bytes per second; memory traffic is 3x that
// (read dst, read src, write dst). 'wasm-copy' copies both operands from JS
// arrays into Wasm memory and the result back out, as a caller whose data
// does not live in Wasm memory would. 'c' is bench/native/kernels.c built
// with gcc -O3 -march=native; 'c128' the same held to 128-bit vectors
// (-mprefer-vector-width=128), the width of Wasm SIMD; 'c-o3' plain
// gcc -O3 with no -march (the x86-64 baseline, SSE2: what a distribution
// builds, and the "C -O3").
// stderr: tables for people.
//
// Environment: BENCH_MS (time per measurement, default 200), BENCH_SIZES
// (comma-separated bytes, default 4 KiB,64 KiB,1 MiB,16 MiB), BENCH_NO_C=1,
// BENCH_NO_THRESHOLD=1.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  WASM_MIN_ELEMENTS, kernels, reduceInto, reduceJs, setWasmMinElements, typedArrayCtor,
} from '../dist/kernels/index.js';

const MIN_MS = Number(process.env.BENCH_MS ?? 200);
const BATCH_MS = 0.25;
const SIZES = (process.env.BENCH_SIZES ?? `${4 << 10},${64 << 10},${1 << 20},${16 << 20}`).split(',').map(Number);
const OPS = ['SUM', 'MAX'];
const TYPES = ['f64', 'f32', 'i32'];

const results = [];
function emit(r) {
  results.push(r);
  process.stdout.write(JSON.stringify(r) + '\n');
}

/**
 * Seconds per call: the best of many short batches (each at least BATCH_MS)
 * over minMs. On a loaded machine a short batch often runs undisturbed where
 * a long one never does; bench/native/kernels.c times C the same way.
 */
function time(fn, minMs) {
  for (let i = 0; i < 5; i++) fn();
  let batch = 1;
  let ns;
  while ((ns = batchNs(fn, batch)) < BATCH_MS * 1e6) batch *= ns < BATCH_MS * 1e5 ? 10 : 2;
  let best = ns / batch;
  const end = performance.now() + minMs;
  while (performance.now() < end) best = Math.min(best, batchNs(fn, batch) / batch);
  return best / 1e9;
}

function batchNs(fn, batch) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) fn();
  return Number(process.hrtime.bigint() - t0);
}

function fill(a, seed) {
  const float = a instanceof Float32Array || a instanceof Float64Array;
  for (let i = 0; i < a.length; i++) {
    const v = ((i * 2654435761 + seed) >>> 0) % 1000;
    a[i] = float ? 0.5 + v * 1e-3 : v - 500;
  }
}

const arena = kernels();

/**
 * Runs every measured kernel for a while first: V8 starts Wasm in its
 * baseline compiler (Liftoff, ~60% of the optimized speed here) and swaps in
 * optimized code in the background, which under load can outlast the first
 * measurement.
 */
function warmUp() {
  const bytes = 64 << 10;
  for (const op of OPS) {
    for (const type of TYPES) {
      const b = arena.alloc(bytes);
      const v = arena.view(b, type, bytes / typedArrayCtor(type).BYTES_PER_ELEMENT);
      v.fill(1);
      time(() => reduceInto(op, v, v), Math.max(10, MIN_MS / 4));
      arena.free(b);
    }
  }
}

function benchThroughput() {
  warmUp();
  for (const op of OPS) {
    for (const type of TYPES) {
      const C = typedArrayCtor(type);
      for (const bytes of SIZES) {
        const n = bytes / C.BYTES_PER_ELEMENT;
        const bd = arena.alloc(bytes);
        const bs = arena.alloc(bytes);
        // Views are made after both allocs: an alloc may grow (and detach) memory.
        const vd = arena.view(bd, type, n);
        const vs = arena.view(bs, type, n);
        fill(vd, 1);
        fill(vs, 7);
        const wasm = time(() => reduceInto(op, vd, vs), MIN_MS);
        emit({ bench: 'kernel', op, type, bytes, impl: 'wasm', gb_s: round(bytes / wasm / 1e9) });

        const jd = new C(n);
        const js = new C(n);
        fill(jd, 1);
        fill(js, 7);
        const copy = time(() => {
          vd.set(jd);
          vs.set(js);
          reduceInto(op, vd, vs);
          jd.set(vd);
        }, MIN_MS);
        emit({ bench: 'kernel', op, type, bytes, impl: 'wasm-copy', gb_s: round(bytes / copy / 1e9) });

        const plain = time(() => reduceJs(op, jd, js), MIN_MS);
        emit({ bench: 'kernel', op, type, bytes, impl: 'js', gb_s: round(bytes / plain / 1e9) });
        arena.free(bd);
        arena.free(bs);
      }
    }
  }
}

function benchNative() {
  if (process.env.BENCH_NO_C === '1') return;
  const gcc = spawnSync('gcc', ['--version']);
  if (gcc.error || gcc.status !== 0) {
    process.stderr.write('gcc not found: skipping native C\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fmi-kernels-'));
  try {
    const src = fileURLToPath(new URL('./native/kernels.c', import.meta.url));
    // 'c': what gcc does for this CPU (AVX2/AVX-512 where there is one);
    // 'c128': the same code held to 128-bit vectors, the width Wasm SIMD has;
    // 'c-o3': gcc -O3 alone, for the baseline x86-64 (SSE2) a distribution targets.
    const builds = [['c', ['-march=native']], ['c128', ['-march=native', '-mprefer-vector-width=128']], ['c-o3', []]];
    for (const [impl, flags] of builds) {
      const exe = join(dir, impl);
      execFileSync('gcc', ['-O3', ...flags, `-DIMPL="${impl}"`, '-o', exe, src], { stdio: ['ignore', 'ignore', 'inherit'] });
      const out = execFileSync(exe, [String(MIN_MS), String(BATCH_MS), ...SIZES.map(String)], { encoding: 'utf8' });
      for (const line of out.split('\n')) if (line.trim()) emit(JSON.parse(line));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Per-call cost of reduceInto at small lengths on arrays in Wasm memory, once
 * forced to Wasm and once forced to JS: where the two cross is the threshold.
 */
function benchThreshold() {
  if (process.env.BENCH_NO_THRESHOLD === '1') return [];
  const cases = [['SUM', 'f64'], ['MAX', 'f64'], ['SUM', 'f32'], ['SUM', 'i32'], ['MAX', 'i32'], ['SUM', 'u8'], ['BXOR', 'i16'], ['SUM', 'i64']];
  const lengths = [1, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256];
  const ms = Math.max(25, MIN_MS / 4);
  const crossover = [];
  const saved = setWasmMinElements(0);
  try {
    for (const [op, type] of cases) {
      const bd = arena.alloc(256 * 8);
      const bs = arena.alloc(256 * 8);
      let first;
      for (const n of lengths) {
        const vd = arena.view(bd, type, n);
        const vs = arena.view(bs, type, n);
        vd.fill(type === 'i64' ? 1n : 1);
        vs.fill(type === 'i64' ? 1n : 1);
        setWasmMinElements(0);
        const w = time(() => reduceInto(op, vd, vs), ms);
        setWasmMinElements(Infinity);
        const j = time(() => reduceInto(op, vd, vs), ms);
        emit({ bench: 'kernel-threshold', op, type, n, impl: 'wasm', ns: round(w * 1e9) });
        emit({ bench: 'kernel-threshold', op, type, n, impl: 'js', ns: round(j * 1e9) });
        if (first === undefined && w < j) first = n;
      }
      crossover.push({ op, type, wasmFasterFrom: first ?? '>256' });
      arena.free(bd);
      arena.free(bs);
    }
  } finally {
    setWasmMinElements(saved);
  }
  return crossover;
}

function round(x) {
  return Math.round(x * 100) / 100;
}

function table(crossover) {
  const impls = ['wasm', 'wasm-copy', 'js', 'c', 'c128', 'c-o3'];
  const fmtBytes = (b) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`);
  const lines = ['', 'GB/s (one operand\'s bytes per second; traffic is 3x)', ''];
  lines.push(['op', 'type', 'size', ...impls, 'wasm/c', 'wasm/c128', 'wasm/c-o3'].map((s) => s.padStart(10)).join(''));
  for (const op of OPS) {
    for (const type of TYPES) {
      for (const bytes of SIZES) {
        const gb = (impl) => results.find((x) => x.bench === 'kernel' && x.op === op && x.type === type && x.bytes === bytes && x.impl === impl)?.gb_s;
        const row = impls.map((impl) => gb(impl)?.toFixed(1) ?? '-');
        const ratio = (impl) => (gb('wasm') && gb(impl) ? (gb('wasm') / gb(impl)).toFixed(2) : '-');
        lines.push([op, type, fmtBytes(bytes), ...row, ratio('c'), ratio('c128'), ratio('c-o3')].map((s) => String(s).padStart(10)).join(''));
      }
    }
  }
  if (crossover.length) {
    lines.push('', `Wasm per-call beats JS from n = (reduceInto switches at ${WASM_MIN_ELEMENTS}):`);
    for (const c of crossover) lines.push(`  ${c.op} ${c.type}: ${c.wasmFasterFrom}`);
  }
  process.stderr.write(lines.join('\n') + '\n');
}

benchThroughput();
benchNative();
const crossover = benchThreshold();
table(crossover);
