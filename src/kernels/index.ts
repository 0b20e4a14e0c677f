// Reduction kernels: every MPI predefined op over every numeric type.
// In place in Wasm memory (SIMD, assembly/) or with plain JS loops.

import { createWasmArena, type Arena, type WasmArena } from './arena.js';
import { JS_KERNELS } from './js-kernels.js';
import { checkPair } from './reduce-js.js';
import { opCode, type NumericArray, type PredefinedOpName } from './types.js';

export {
  ELEM_BYTES, ELEM_TYPES, OP_CODES, OP_NAMES, TYPE_CODES,
  elemTypeOf, supports, typedArrayCtor,
} from './types.js';
export type { ElemType, NumericArray, PredefinedOpName } from './types.js';
export { reduceJs, reduceScalar } from './reduce-js.js';
export { createArena, sizeClass } from './arena.js';
export type { Arena, WasmBlock } from './arena.js';

/**
 * Below this many elements reduceInto stays in JS even for arrays in Wasm
 * memory: the JS->Wasm call costs about as much as a short JS loop.
 * Measured with bench/kernels.mjs (crossover 16-48 elements for number
 * types on the dev VM; BigInt loops are slower, so i64/u64 cross even earlier).
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

/**
 * dst = dst op src, in place. Runs the Wasm SIMD kernel when both arrays are
 * views on kernels().memory.buffer and hold at least WASM_MIN_ELEMENTS
 * elements (see setWasmMinElements), plain JS loops otherwise. Never loads Wasm by itself: arrays in
 * kernels() memory imply kernels() was called.
 *
 * Throws TypeError for mismatched or unsupported array kinds and for ops MPI
 * does not define on the type, RangeError when lengths differ.
 */
export function reduceInto(op: PredefinedOpName, dst: NumericArray, src: NumericArray): void {
  const o = opCode(op);
  const c = checkPair(op, o, dst, src);
  const n = dst.length;
  const a = shared;
  if (a !== undefined && n >= wasmMin) {
    const buf = a.buffer();
    if (dst.buffer === buf && src.buffer === buf) {
      a.kernel(o, c, dst.byteOffset, src.byteOffset, n);
      return;
    }
  }
  (JS_KERNELS[o]![c] as AnyKernel)(dst, src);
}
