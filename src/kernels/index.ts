// Reduction kernels: every MPI predefined op over every numeric type, in
// place in Wasm memory (SIMD, assembly/) or with plain JS loops.
//
// Both paths give identical results: integer SUM/PROD wrap (two's
// complement), logical ops give 1 or 0 in the element type, f32 results are
// rounded to f32. Float MIN/MAX are Math.min/Math.max: -0 counts as less than
// +0, and a NaN in either operand gives NaN whichever operand holds it (so
// results never depend on rank order; assembly/ops.ts builds this from
// pmin/pmax, which alone would keep or drop a NaN by position). A NaN's sign
// and payload bits are not specified.
// dst and src may be the same array; partially overlapping ones give
// unspecified results.

import { createWasmArena, type Arena, type WasmArena } from './arena.js';
import { JS_KERNELS } from './js-kernels.js';
import { checkPair } from './reduce-js.js';
import {
  intrinsicGetter, opCode, supportsCodes, typeCodeOfTag,
  type NumericArray, type PredefinedOpName,
} from './types.js';

export {
  ELEM_BYTES, ELEM_TYPES, OP_CODES, OP_NAMES, TYPE_CODES,
  elemTypeOf, supports, typedArrayCtor,
} from './types.js';
export type { ElemType, NumericArray, PredefinedOpName } from './types.js';
export { reduceJs, reduceScalar } from './reduce-js.js';
export { createArena, sizeClass, viewsOutliveGrowth } from './arena.js';
export type { Arena, WasmBlock } from './arena.js';

/**
 * Below this many elements reduceInto stays in JS even for arrays in Wasm
 * memory. Measured with bench/kernels.mjs on the 2-vCPU dev VM: a Wasm call
 * through reduceInto costs ~55 ns whatever the length up to a few hundred
 * elements, the JS loop ~30 ns + ~1.2 ns per element, so Wasm wins from
 * 16-32 elements on every type measured (f64, f32, i32, u8, i16, i64).
 * @default 32
 */
export const WASM_MIN_ELEMENTS = 32;
let wasmMin = WASM_MIN_ELEMENTS;

/**
 * Overrides the JS/Wasm switch point of reduceInto (for benchmarks and
 * machines where the measurement differs); returns the previous value.
 * 0 always takes Wasm for arrays in kernels() memory, Infinity never does.
 */
export function setWasmMinElements(n: number): number {
  if (!(n >= 0)) throw new RangeError(`setWasmMinElements: bad count ${n}`);
  const prev = wasmMin;
  wasmMin = n;
  return prev;
}

let shared: WasmArena | undefined;

/** The process-wide arena and kernels over their own memory; loaded on first call (synchronous compile). */
export function kernels(): Arena {
  return (shared ??= createWasmArena());
}

type AnyKernel = (d: NumericArray, s: NumericArray) => void;

// This module's own copies of the getters reduceInto calls (see
// intrinsicGetter): through an import they cost ~10 ns more per call.
const tagOf = intrinsicGetter<string | undefined>(Symbol.toStringTag);
const lengthOf = intrinsicGetter<number>('length');
const bufferOf = intrinsicGetter<ArrayBufferLike>('buffer');
const byteOffsetOf = intrinsicGetter<number>('byteOffset');

// The arrays and buffer of the last call that took Wasm (see reduceInto).
// Views on the arena's own memory: holding them keeps nothing alive that the
// arena does not.
let seenBuf: ArrayBufferLike | undefined;
let seenDst: NumericArray | undefined;
let seenSrc: NumericArray | undefined;

/**
 * dst = dst op src, in place. Runs the Wasm SIMD kernel when both arrays are
 * views on kernels().memory.buffer and hold at least WASM_MIN_ELEMENTS
 * elements (see setWasmMinElements), plain JS loops otherwise. Never loads
 * Wasm by itself: arrays in kernels() memory imply kernels() was called.
 * Allocates nothing.
 *
 * Throws TypeError for mismatched or unsupported array kinds and for ops MPI
 * does not define on the type, RangeError when lengths differ.
 */
export function reduceInto(op: PredefinedOpName, dst: NumericArray, src: NumericArray): void {
  const o = opCode(op);
  // checkPair's checks inline, each getter called once: at small sizes
  // these calls are most of the cost of a call.
  const tag = tagOf.call(dst);
  const c = typeCodeOfTag(tag);
  const n = c < 0 ? -1 : lengthOf.call(dst);
  if (c < 0 || o < 0 || !supportsCodes(o, c) || tagOf.call(src) !== tag || lengthOf.call(src) !== n) {
    checkPair(op, o, dst, src); // throws the error that fits
  }
  const a = shared;
  if (a !== undefined && n >= wasmMin) {
    const buf = a.buffer();
    // The buffer getters are half of a small call's overhead (~15 ns of ~25
    // at 64 elements). A view's buffer never changes, so the views of the
    // last Wasm call, checked against the same buffer, need no second look.
    const known = seenBuf === buf;
    if (((known && dst === seenDst) || bufferOf.call(dst) === buf) && ((known && src === seenSrc) || bufferOf.call(src) === buf)) {
      seenBuf = buf;
      seenDst = dst;
      seenSrc = src;
      a.kernel(o, c, byteOffsetOf.call(dst), byteOffsetOf.call(src), n);
      return;
    }
  }
  (JS_KERNELS[o]![c] as AnyKernel)(dst, src);
}
