// Packing derived datatypes: the Wasm kernels of assembly/pack.ts (as the
// MPI runtime runs them, src/mpi/program-pack.ts) against the JS block loop
// (packInto/unpackFrom of src/mpi/pack.ts, what every send and receive of a
// derived type used before). Run after `npm run build`:
//   node bench/mpi/pack.mjs
//
// The "program" is a WebAssembly.Memory with a bump allocator standing in
// for the program's malloc. Per layout, microseconds per call:
//   read js      packInto a new Uint8Array: a send or collective input before (the baseline)
//   read kernel  packer.read: the kernel into scratch space, then copied out
//                (non-blocking sends, collectives)
//   send kernel  the kernel into scratch space, sent from there (blocking
//                MPI_Send; also MPI_Pack)
//   write js     unpackFrom a JS buffer: a receive before (the baseline)
//   write kernel the packed bytes copied into scratch space, then the kernel
//                (receives that land in a JS buffer: non-blocking, collectives)
//   recv kernel  the kernel from scratch space (blocking MPI_Recv, which
//                receives into it; also MPI_Unpack)
// stdout: one JSON line per result {bench:'pack', layout, blocks, bytes, op, impl, us, gb_s};
// then {bench:'pack-threshold', blocks, op, impl, ns} for small types (where
// BLOCKS_MIN_BLOCKS comes from). stderr: tables. BENCH_MS: time per
// measurement (default 200).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nsPerCall } from '../lib/common.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
if (!existsSync(`${root}/dist/mpi/program-pack.js`) || !existsSync(`${root}/build/kernels-unshared.wasm`)) {
  process.stderr.write('bench/mpi/pack: run `npm run build` first\n');
  process.exit(2);
}
const { indexed, struct, subarray, vector, extentOf } = await import('../../dist/mpi/datatypes.js');
const { packInto, unpackFrom } = await import('../../dist/mpi/pack.js');
const { ProgramPacker, BLOCKS_MIN_BLOCKS, setBlocksMinBlocks } = await import('../../dist/mpi/program-pack.js');

const MIN_MS = Number(process.env.BENCH_MS ?? 200);
const log = (s) => process.stderr.write(`${s}\n`);
const emit = (r) => process.stdout.write(JSON.stringify(r) + '\n');

/** A program's memory and malloc, as the runtime sees them (ProgramHost). */
function fakeProgram() {
  const memory = new WebAssembly.Memory({ initial: 1024, maximum: 32768 });
  let top = 1024;
  return {
    memory: () => memory,
    heap: () => new Uint8Array(memory.buffer),
    malloc(n) {
      const p = (top + 15) & ~15;
      top = p + n;
      const need = Math.ceil(top / 65536) - memory.buffer.byteLength / 65536;
      if (need > 0) memory.grow(need);
      return p;
    },
    free() {},
    call() {
      throw new Error('no function table');
    },
  };
}

/** Microseconds per call (see nsPerCall). */
const time = (fn) => nsPerCall(fn, MIN_MS, 3) / 1e3;

const committed = (t) => ((t.committed = true), t);
const INT = { size: 4, lb: 0, ub: 4, trueLb: 0, trueUb: 4, blocks: [0, 4], dense: 0, sig: [4, 1], align: 4 };
const DOUBLE = { size: 8, lb: 0, ub: 8, trueLb: 0, trueUb: 8, blocks: [0, 8], dense: 0, sig: [8, 1], align: 8 };
const CHAR = { size: 1, lb: 0, ub: 1, trueLb: 0, trueUb: 1, blocks: [0, 1], dense: 0, sig: [1, 1], align: 1 };

/** Deterministic gaps, so the blocks are not evenly strided (which the strided kernel would take). */
const gap = (i) => 8 * (1 + ((i * 7) % 3));

/** count blocks of `len` doubles with uneven gaps (MPI_Type_indexed). */
function indexedDoubles(count, len) {
  const lens = new Array(count).fill(len);
  const displs = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    displs.push(at / 8);
    at += len * 8 + gap(i);
  }
  return committed(indexed(lens, displs, DOUBLE, 0, false));
}

const LAYOUTS = [
  // 128K blocks of one double: the brief's "8-byte blocks" case
  { name: 'indexed 8 B x 128K', type: indexedDoubles(128 << 10, 1), count: 1 },
  // struct { char c; double d; int n[2]; } x 43690: 3 blocks of 1, 8, 8 bytes, extent 24
  { name: 'struct {c,d,n[2]} x 43690', type: committed(struct([1, 1, 2], [0, 8, 16], [CHAR, DOUBLE, INT], [0, 0, 0])), count: 43690 },
  // blocks of 4 to 64 bytes
  { name: 'indexed 256 B x 4K', type: indexedDoubles(4 << 10, 32), count: 1 },
  { name: 'indexed 1 KiB x 2K', type: indexedDoubles(2 << 10, 128), count: 1 },
  { name: 'indexed 4-64 B x 32K', type: committed(indexed(Array.from({ length: 32 << 10 }, (_, i) => 1 + (i % 16)), Array.from({ length: 32 << 10 }, (_, i) => 20 * i), INT, 0, false)), count: 1 },
  // big blocks: a 512 x 512 block of a 1024 x 1024 array of doubles (512 rows of 4 KiB)
  { name: 'subarray 512x512 of 1024^2 f64', type: committed(subarray([1024, 1024], [512, 512], [256, 256], 56, DOUBLE, 0)), count: 1 },
  // evenly strided: the strided kernel, for comparison
  { name: 'vector 8 B x 128K (strided)', type: committed(vector(128 << 10, 1, 2, DOUBLE, 0, false)), count: 1 },
];

const host = fakeProgram();
const packer = new ProgramPacker(host);
const rows = [];
for (const { name, type: t, count } of LAYOUTS) {
  const n = count * t.size;
  const span = (count - 1) * extentOf(t) + t.trueUb - Math.min(0, t.trueLb);
  const buf = host.malloc(span + 64) - Math.min(0, t.trueLb);
  const out = host.malloc(n);
  const heap = host.heap();
  for (let i = 0; i < span; i++) heap[buf + Math.min(0, t.trueLb) + i] = (i * 31) & 255;
  // Same bytes both ways, or the comparison means nothing.
  const want = new Uint8Array(n);
  packInto(host.heap(), buf, count, t, want, 0);
  const blocks = count * (t.blocks.length / 2);
  const scratch = host.malloc(n);
  if (!packer.packWithin(buf, count, t, scratch) || Buffer.compare(host.heap().subarray(scratch, scratch + n), want) !== 0) {
    throw new Error(`${name}: the kernel packs different bytes`);
  }
  // What packer.read does, also where the runtime keeps to JS (big blocks).
  const copyOut = () => (n < 64 << 10 ? host.heap().slice(scratch, scratch + n) : new Uint8Array(host.heap().buffer.slice(scratch, scratch + n)));
  const runtime = packer.read(buf, count, t) ? 'kernel' : 'js';
  const cases = [
    ['read', 'js', () => packInto(host.heap(), buf, count, t, new Uint8Array(n), 0)],
    ['read', 'kernel', () => (packer.packWithin(buf, count, t, scratch), copyOut())],
    ['send', 'kernel', () => packer.packWithin(buf, count, t, scratch)],
    ['write', 'js', () => unpackFrom(want, 0, n, host.heap(), buf, count, t)],
    ['write', 'kernel', () => (host.heap().set(want, scratch), packer.unpackWithin(scratch, count, t, buf))],
    ['recv', 'kernel', () => packer.unpackWithin(scratch, count, t, buf)],
  ];
  const us = {};
  for (const [op, impl, fn] of cases) {
    const u = time(fn);
    us[`${op}-${impl}`] = u;
    emit({ bench: 'pack', layout: name, blocks, bytes: n, op, impl, us: +u.toFixed(2), gb_s: +(n / u / 1e3).toFixed(3) });
  }
  rows.push({ name, blocks, n, us, runtime });
}

log('\nderived-type pack/unpack, us per call (lower is better; x: speedup over js)');
log('(read/write: the runtime picks the kernel for small blocks, JS from 1 KiB blocks on: "runtime" column)');
log('layout                            blocks     bytes |  read js   kernel      x |  send kernel      x | write js   kernel      x |  recv kernel      x | runtime');
for (const { name, blocks, n, us, runtime } of rows) {
  const f = (x) => x.toFixed(1).padStart(8);
  const x = (base, v) => `${(base / v).toFixed(1).padStart(5)}x`;
  const r = us['read-js'];
  const w = us['write-js'];
  log(`${name.padEnd(32)} ${String(blocks).padStart(7)} ${String(n).padStart(9)} | ${f(r)} ${f(us['read-kernel'])} ${x(r, us['read-kernel'])} |     ${f(us['send-kernel'])} ${x(r, us['send-kernel'])} | ${f(w)} ${f(us['write-kernel'])} ${x(w, us['write-kernel'])} |     ${f(us['recv-kernel'])} ${x(w, us['recv-kernel'])} | ${runtime}`);
}

// Small types: where the kernel (plus the copy through scratch space) starts to pay.
log(`\nsmall indexed types of doubles, one element, ns per read/write through the runtime's path (BLOCKS_MIN_BLOCKS is ${BLOCKS_MIN_BLOCKS})`);
log('blocks   read js  kernel   write js  kernel');
const oldMin = setBlocksMinBlocks(0);
for (const k of [1, 2, 3, 4, 6, 8, 16, 32, 64, 128]) {
  const t = indexedDoubles(k, 1);
  const buf = host.malloc(k * 24 + 64);
  const n = t.size;
  const data = new Uint8Array(n).fill(7);
  const res = {
    'read-js': time(() => packInto(host.heap(), buf, 1, t, new Uint8Array(n), 0)) * 1e3,
    'read-kernel': time(() => packer.read(buf, 1, t)) * 1e3,
    'write-js': time(() => unpackFrom(data, 0, n, host.heap(), buf, 1, t)) * 1e3,
    'write-kernel': time(() => packer.write(buf, 1, t, data)) * 1e3,
  };
  for (const [key, ns] of Object.entries(res)) {
    const [op, impl] = key.split('-');
    emit({ bench: 'pack-threshold', blocks: k, op, impl, ns: Math.round(ns) });
  }
  const f = (x) => x.toFixed(0).padStart(8);
  log(`${String(k).padStart(6)} ${f(res['read-js'])} ${f(res['read-kernel'])} ${f(res['write-js'])} ${f(res['write-kernel'])}`);
}
setBlocksMinBlocks(oldMin);
