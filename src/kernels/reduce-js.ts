// Reductions without Wasm: typed arrays anywhere, and plain numbers/bigints.

import { JS_KERNELS } from './js-kernels.js';
import {
  ELEM_TYPES, lengthOf, opCode, supportsCodes, typeCodeOf,
  type NumericArray, type PredefinedOpName,
} from './types.js';

type AnyKernel = (d: NumericArray, s: NumericArray) => void;

/**
 * Checks that dst and src are the same numeric kind and length and that op
 * (code o) is defined on it; returns the type code. Throws TypeError (unknown
 * op, array kind, mismatch, op undefined for the type) or RangeError
 * (lengths differ).
 */
export function checkPair(op: PredefinedOpName, o: number, dst: NumericArray, src: NumericArray): number {
  const c = typeCodeOf(dst);
  if (c < 0) throw new TypeError(`reduce: unsupported array kind ${describe(dst)}`);
  if (typeCodeOf(src) !== c) throw new TypeError(`reduce: ${describe(src)} does not match ${describe(dst)}`);
  const n = lengthOf.call(dst);
  if (lengthOf.call(src) !== n) {
    throw new RangeError(`reduce: length ${src.length} does not match ${n}`);
  }
  if (o < 0 || !supportsCodes(o, c)) {
    throw new TypeError(`reduce: MPI_${String(op)} is not defined for ${ELEM_TYPES[c]}`);
  }
  return c;
}

function describe(a: unknown): string {
  if (a === null || typeof a !== 'object') return typeof a;
  return (a as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] ?? a.constructor?.name ?? 'object';
}

/**
 * dst[i] = dst[i] op src[i] with plain JS loops, in place. Same results as the
 * Wasm kernels: integers wrap, logical ops give 1/0, float MIN/MAX follow
 * Math.min/Math.max (a NaN in either input gives NaN; -0 < +0).
 */
export function reduceJs(op: PredefinedOpName, dst: NumericArray, src: NumericArray): void {
  const o = opCode(op);
  const c = checkPair(op, o, dst, src);
  (JS_KERNELS[o]![c] as AnyKernel)(dst, src);
}

/**
 * a op b for single values, both numbers or both bigints (mixing throws
 * TypeError).
 *
 * - numbers: SUM/PROD are float arithmetic (no wrapping), MIN/MAX are
 *   Math.min/Math.max, logical ops give 1 or 0, bitwise ops use JS int32
 *   semantics (`a & b`, so 2**32 + 1 behaves as 1).
 * - bigints: exact, unbounded; logical ops give 1n or 0n.
 */
export function reduceScalar(op: PredefinedOpName, a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number') {
    switch (op) {
      case 'SUM': return a + b;
      case 'PROD': return a * b;
      case 'MIN': return Math.min(a, b);
      case 'MAX': return Math.max(a, b);
      case 'LAND': return a !== 0 && b !== 0 ? 1 : 0;
      case 'LOR': return a !== 0 || b !== 0 ? 1 : 0;
      case 'LXOR': return (a !== 0) !== (b !== 0) ? 1 : 0;
      case 'BAND': return a & b;
      case 'BOR': return a | b;
      case 'BXOR': return a ^ b;
    }
  } else if (typeof a === 'bigint' && typeof b === 'bigint') {
    switch (op) {
      case 'SUM': return a + b;
      case 'PROD': return a * b;
      case 'MIN': return a < b ? a : b;
      case 'MAX': return a > b ? a : b;
      case 'LAND': return a !== 0n && b !== 0n ? 1n : 0n;
      case 'LOR': return a !== 0n || b !== 0n ? 1n : 0n;
      case 'LXOR': return (a !== 0n) !== (b !== 0n) ? 1n : 0n;
      case 'BAND': return a & b;
      case 'BOR': return a | b;
      case 'BXOR': return a ^ b;
    }
  } else {
    throw new TypeError(`reduceScalar: cannot mix ${typeof a} and ${typeof b}`);
  }
  throw new TypeError(`reduceScalar: unknown op ${String(op)}`);
}

