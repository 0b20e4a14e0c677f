// What one thread rank's part of a node-arena allreduce costs, phase by
// phase, in one thread (no synchronization: the CPU work only), for plain
// arrays (JS copies in and out of the shared memory: a TypedArray set, and
// copyBytes, the Buffer#fill memcpy that the arena uses) and for arrays from
// sharedArray() (read in place, Wasm memory.copy out):
//   npm run build && node bench/shm-arena-phases.mjs
//
// Environment: FMI_BENCH_SIZES (bytes per rank, default 64k,1m,4m),
// FMI_BENCH_RANKS (default 4: the slice a rank reduces is 1/ranks).
// stdout: {"bench":"arena-phases","bytes","ranks","phase","us"} lines (best
// of 40 rounds of 10); stderr: a table.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyBytes } from '../dist/channels/shm/copy-bytes.js';
import { loadLine } from './lib/common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.FMI_BENCH_RANKS ?? 4);
const SIZES = (process.env.FMI_BENCH_SIZES || '64k,1m,4m').split(',').map((s) => {
  const m = /^(\d+)([km]?)$/i.exec(s.trim());
  if (!m) throw new Error(`FMI_BENCH_SIZES: bad size ${s}`);
  return Number(m[1]) * ({ k: 1024, m: 1024 * 1024 }[m[2].toLowerCase()] ?? 1);
});
const SUM = 0;
const F64 = 9;

const maxBytes = Math.max(...SIZES);
// Slots (what plain contributions are copied into) then the ranks' shared arrays, then their shared `into`s.
const pages = Math.ceil(((3 * N) * maxBytes + 65536) / 65536);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
const k = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(here, '..', 'build', 'kernels.wasm'))), { env: { memory } }).exports;

const best = (f) => {
  let b = Infinity;
  for (let r = 0; r < 40; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) f();
    b = Math.min(b, (performance.now() - t0) / 10);
  }
  return Math.round(b * 10000) / 10;
};

process.stderr.write(`arena phases, ${N} ranks, load ${loadLine()}\n`);
const rows = [];
for (const bytes of SIZES) {
  const slot = (s) => 65536 + s * bytes;
  const shared = (s) => 65536 + (N + s) * bytes;
  const intos = (s) => 65536 + (2 * N + s) * bytes;
  const into = intos(0);
  const user = new Uint8Array(bytes).fill(1);
  const out = new Uint8Array(bytes);
  const slice = Math.ceil(bytes / N / 64) * 64;
  const view = (at) => new Uint8Array(memory.buffer, at, bytes);
  // As node-reduce.ts reduceSlice: three contributions per pass of the kernels' fold4 into the slice of slot 0 (or of the first `into`).
  const reduce = (input, to = slot(0)) => {
    const dst = to + slice;
    const at = (s) => (s < N ? input(s) + slice : 0);
    for (let s = 1, from = at(0); s < N; s += 3, from = dst) k.fold4(SUM, F64, dst, from, at(s), at(s + 1), at(s + 2), slice / 8);
  };
  const phases = {
    'copy in, JS (plain array)': () => view(slot(1)).set(user),
    'reduce own slice (Wasm)': () => reduce(slot),
    'copy out, JS (plain into)': () => out.set(view(slot(0))),
    'copy in, copyBytes (plain array)': () => copyBytes(view(slot(1)), 0, user),
    'copy out, copyBytes (plain into)': () => copyBytes(out, 0, view(slot(0))),
    'copy out, memory.copy (shared into)': () => k.copy(into, slot(0), bytes),
    'plain: in + reduce + out': () => {
      view(slot(1)).set(user);
      reduce(slot);
      out.set(view(slot(0)));
    },
    'plain, copyBytes: in + reduce + out': () => {
      copyBytes(view(slot(1)), 0, user);
      reduce(slot);
      copyBytes(out, 0, view(slot(0)));
    },
    'shared: reduce in place + memory.copy out': () => {
      k.copy(slot(0) + slice, shared(0) + slice, slice);
      reduce(shared);
      k.copy(into, slot(0), bytes);
    },
    'shared: reduce into every into (writesOut)': () => {
      reduce(shared, intos(0));
      for (let s = 1; s < N; s++) k.copy(intos(s) + slice, intos(0) + slice, slice);
    },
  };
  for (const [phase, f] of Object.entries(phases)) {
    const r = { bench: 'arena-phases', bytes, ranks: N, phase, us: best(f) };
    rows.push(r);
    process.stdout.write(JSON.stringify(r) + '\n');
  }
}
for (const r of rows) process.stderr.write(`${String(r.bytes).padStart(8)} ${r.phase.padEnd(44)} ${r.us.toFixed(1).padStart(8)} us\n`);
