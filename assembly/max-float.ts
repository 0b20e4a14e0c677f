// MAX on f32/f64 with Math.max's rules (a NaN in either operand gives NaN,
// +0 > -0) at about SUM's speed.
//
// The exact SIMD form (ops.ts maxFloat) takes five instructions per vector
// where SUM takes one, and ran at ~0.75 of SUM's speed. Here the common case
// takes three: p = pmax(a, b) is the answer in every lane except where b is
// a NaN or a is -0 and b is +0. In exactly those lanes p = a and
// q = pmax(b, a) = b, so p != q bitwise; elsewhere p == q (both the max).
// The loop stores p and ORs p ^ q into a flag. A chunk whose flag is set is
// redone with the exact form while it is still in L1: its special lanes
// still hold a (dst) next to b (src), and every other lane holds max(a, b),
// which the exact form leaves as it is (max(max(a, b), b) == max(a, b),
// zeros included). So NaN or -0 data costs a second pass over its chunks only.

import { OP_MAX } from './codes';
import { run } from './loop';

/** Bytes per chunk: small enough that a redo finds both operands in L1. */
const CHUNK: usize = 4096;

/** p ^ pmax(b, a): non-zero in exactly the lanes where p = pmax(a, b) is not Math.max(a, b). */
// @ts-ignore: decorator
@inline function miss<T>(a: v128, b: v128, p: v128): v128 {
  return v128.xor(p, v128.pmax<T>(b, a));
}

/** Fast pass over whole vectors in [d, end); true when some lane needs the exact form. */
// @ts-ignore: decorator
@inline function fast<T>(d: usize, s: usize, end: usize): bool {
  // Two flags: one OR chain each halves the loop-carried dependency.
  // Offsets are immediates (v128.load(d, 16)): Binaryen does not fold d + 16
  // into one, as an address may wrap.
  let f0 = v128.splat<i64>(0);
  let f1 = v128.splat<i64>(0);
  const end64 = d + ((end - d) & ~(<usize>63));
  while (d < end64) {
    let a = v128.load(d);
    let b = v128.load(s);
    let p = v128.pmax<T>(a, b);
    v128.store(d, p);
    f0 = v128.or(f0, miss<T>(a, b, p));
    a = v128.load(d, 16);
    b = v128.load(s, 16);
    p = v128.pmax<T>(a, b);
    v128.store(d, p, 16);
    f1 = v128.or(f1, miss<T>(a, b, p));
    a = v128.load(d, 32);
    b = v128.load(s, 32);
    p = v128.pmax<T>(a, b);
    v128.store(d, p, 32);
    f0 = v128.or(f0, miss<T>(a, b, p));
    a = v128.load(d, 48);
    b = v128.load(s, 48);
    p = v128.pmax<T>(a, b);
    v128.store(d, p, 48);
    f1 = v128.or(f1, miss<T>(a, b, p));
    d += 64;
    s += 64;
  }
  while (d < end) {
    const a = v128.load(d);
    const b = v128.load(s);
    const p = v128.pmax<T>(a, b);
    v128.store(d, p);
    f0 = v128.or(f0, miss<T>(a, b, p));
    d += 16;
    s += 16;
  }
  return v128.any_true(v128.or(f0, f1));
}

/** dst[i] = Math.max(dst[i], src[i]) for i in [0, n), T = f32 or f64. */
export function maxFloat<T>(dst: usize, src: usize, n: i32): void {
  const bytes = (<usize>n) << alignof<T>();
  const vecEnd = dst + (bytes & ~(<usize>15));
  let d = dst;
  let s = src;
  while (d < vecEnd) {
    const len = min<usize>(CHUNK, vecEnd - d);
    if (fast<T>(d, s, d + len)) run<T>(OP_MAX, d, s, <i32>(len >> alignof<T>()));
    d += len;
    s += len;
  }
  // The last 0..15 bytes: scalar max<T> is Wasm's fNN.max, exact already.
  const end = dst + bytes;
  while (d < end) {
    store<T>(d, max<T>(load<T>(d), load<T>(s)));
    d += sizeof<T>();
    s += sizeof<T>();
  }
}
