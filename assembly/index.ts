// Reduction kernels: every MPI predefined op over every numeric type, in place
// in linear memory (apply), or into a third block and two or three operands
// per pass (fold, fold4). The module imports its memory (env.memory) and has no data
// segments or globals that point into memory, so it can run over any
// program's WebAssembly.Memory, e.g. an Emscripten-compiled MPI program.

import {
  OP_SUM, OP_PROD, OP_MIN, OP_MAX, OP_LAND, OP_LOR, OP_LXOR, OP_BAND, OP_BOR, OP_BXOR,
  T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_I64, T_U64, T_F32, T_F64,
} from './codes';
import { run, run3, run4 } from './loop';
import { maxFloat } from './max-float';

// One real function per op: Binaryen specialises each body for its constant
// op before any inlining. Inlining run<T> straight into a switch lets its
// code folding merge the cases back into one loop that computes every op and
// picks one per vector.
function kSum<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_SUM, dst, a, b, n); else if (d == 0) run3<T>(OP_SUM, dst, a, b, c, n); else run4<T>(OP_SUM, dst, a, b, c, d, n); }
function kProd<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_PROD, dst, a, b, n); else if (d == 0) run3<T>(OP_PROD, dst, a, b, c, n); else run4<T>(OP_PROD, dst, a, b, c, d, n); }
function kMin<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_MIN, dst, a, b, n); else if (d == 0) run3<T>(OP_MIN, dst, a, b, c, n); else run4<T>(OP_MIN, dst, a, b, c, d, n); }
function kMax<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_MAX, dst, a, b, n); else if (d == 0) run3<T>(OP_MAX, dst, a, b, c, n); else run4<T>(OP_MAX, dst, a, b, c, d, n); }
function kLand<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_LAND, dst, a, b, n); else if (d == 0) run3<T>(OP_LAND, dst, a, b, c, n); else run4<T>(OP_LAND, dst, a, b, c, d, n); }
function kLor<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_LOR, dst, a, b, n); else if (d == 0) run3<T>(OP_LOR, dst, a, b, c, n); else run4<T>(OP_LOR, dst, a, b, c, d, n); }
function kLxor<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_LXOR, dst, a, b, n); else if (d == 0) run3<T>(OP_LXOR, dst, a, b, c, n); else run4<T>(OP_LXOR, dst, a, b, c, d, n); }
function kBand<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_BAND, dst, a, b, n); else if (d == 0) run3<T>(OP_BAND, dst, a, b, c, n); else run4<T>(OP_BAND, dst, a, b, c, d, n); }
function kBor<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_BOR, dst, a, b, n); else if (d == 0) run3<T>(OP_BOR, dst, a, b, c, n); else run4<T>(OP_BOR, dst, a, b, c, d, n); }
function kBxor<T>(dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): void { if (c == 0) run<T>(OP_BXOR, dst, a, b, n); else if (d == 0) run3<T>(OP_BXOR, dst, a, b, c, n); else run4<T>(OP_BXOR, dst, a, b, c, d, n); }

/** All ten ops for an integer type. Only MIN/MAX care about signedness. */
function ints<T>(op: i32, dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): i32 {
  switch (op) {
    case OP_SUM: kSum<T>(dst, a, b, c, d, n); return 0;
    case OP_PROD: kProd<T>(dst, a, b, c, d, n); return 0;
    case OP_MIN: kMin<T>(dst, a, b, c, d, n); return 0;
    case OP_MAX: kMax<T>(dst, a, b, c, d, n); return 0;
    case OP_LAND: kLand<T>(dst, a, b, c, d, n); return 0;
    case OP_LOR: kLor<T>(dst, a, b, c, d, n); return 0;
    case OP_LXOR: kLxor<T>(dst, a, b, c, d, n); return 0;
    case OP_BAND: kBand<T>(dst, a, b, c, d, n); return 0;
    case OP_BOR: kBor<T>(dst, a, b, c, d, n); return 0;
    case OP_BXOR: kBxor<T>(dst, a, b, c, d, n); return 0;
  }
  return -1;
}

/** MIN/MAX for an unsigned type; everything else is bit-identical to signed. */
function unsignedOrder<T>(op: i32, dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): i32 {
  if (op == OP_MIN) { kMin<T>(dst, a, b, c, d, n); return 0; }
  if (op == OP_MAX) { kMax<T>(dst, a, b, c, d, n); return 0; }
  return -2;
}

function floats<T>(op: i32, dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): i32 {
  switch (op) {
    case OP_SUM: kSum<T>(dst, a, b, c, d, n); return 0;
    case OP_PROD: kProd<T>(dst, a, b, c, d, n); return 0;
    case OP_MIN: kMin<T>(dst, a, b, c, d, n); return 0;
    case OP_MAX: maxFloat<T>(dst, a, b, c, n); if (d != 0) maxFloat<T>(dst, dst, d, 0, n); return 0;
  }
  return -1;
}

// @ts-ignore: decorator
@inline function unsigned<S, U>(op: i32, dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): i32 {
  const r = unsignedOrder<U>(op, dst, a, b, c, d, n);
  return r == -2 ? ints<S>(op, dst, a, b, c, d, n) : r;
}

/**
 * dst[i] = dst[i] op src[i] for i in [0, n). Addresses are byte offsets into
 * the imported memory; no alignment needed. Returns 0, or -1 when the op is
 * not defined for the type (logical/bitwise on floats), the op or type code is
 * unknown, or n < 0.
 */
export function apply(op: i32, type: i32, dst: usize, src: usize, n: i32): i32 {
  return fold(op, type, dst, dst, src, 0, n);
}

/**
 * dst[i] = (a[i] op b[i]) op c[i] for i in [0, n): one pass over dst where
 * two would read and write it twice, with their order of operations (the
 * same bits). c = 0 (NULL, which holds no operand): dst[i] = a[i] op b[i].
 * dst may be a; not b or c. Returns as apply().
 */
export function fold(op: i32, type: i32, dst: usize, a: usize, b: usize, c: usize, n: i32): i32 {
  return fold4(op, type, dst, a, b, c, 0, n);
}

/**
 * dst[i] = ((a[i] op b[i]) op c[i]) op d[i] for i in [0, n): fold with a
 * third contribution in the same pass (float MAX: two passes, fold's and
 * then d's). d = 0: fold. dst may be a; not b, c or d. Returns as apply().
 */
export function fold4(op: i32, type: i32, dst: usize, a: usize, b: usize, c: usize, d: usize, n: i32): i32 {
  if (n < 0) return -1;
  if (c == 0) d = 0;
  switch (type) {
    case T_I8: return ints<i8>(op, dst, a, b, c, d, n);
    case T_U8: return unsigned<i8, u8>(op, dst, a, b, c, d, n);
    case T_I16: return ints<i16>(op, dst, a, b, c, d, n);
    case T_U16: return unsigned<i16, u16>(op, dst, a, b, c, d, n);
    case T_I32: return ints<i32>(op, dst, a, b, c, d, n);
    case T_U32: return unsigned<i32, u32>(op, dst, a, b, c, d, n);
    case T_I64: return ints<i64>(op, dst, a, b, c, d, n);
    case T_U64: return unsigned<i64, u64>(op, dst, a, b, c, d, n);
    case T_F32: return floats<f32>(op, dst, a, b, c, d, n);
    case T_F64: return floats<f64>(op, dst, a, b, c, d, n);
  }
  return -1;
}
export { packStrided, unpackStrided, packBlocks, unpackBlocks } from './pack';

/**
 * Copies n bytes from src to dst inside the imported memory (memory.copy:
 * memmove). In a shared memory this runs at memcpy speed, where every JS
 * copy that touches a SharedArrayBuffer moves word by word at about half
 * of it (bench/shm-pingpong.mjs). Returns -1 for n < 0.
 */
export function copy(dst: usize, src: usize, n: i32): i32 {
  if (n < 0) return -1;
  memory.copy(dst, src, <usize>n);
  return 0;
}
