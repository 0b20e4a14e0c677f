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
import { run, run3 } from './loop';

/** Bytes per chunk: small enough that a redo finds its operands in L1. */
const CHUNK: usize = 4096;

/** p ^ pmax(b, a): non-zero in exactly the lanes where p = pmax(a, b) is not Math.max(a, b). */
// @ts-ignore: decorator
@inline function miss<T>(a: v128, b: v128, p: v128): v128 {
  return v128.xor(p, v128.pmax<T>(b, a));
}

/** pmax(a, b) stored at d, its misses ORed into f. */
// @ts-ignore: decorator
@inline function step2<T>(d: usize, x: usize, y: usize, f: v128): v128 {
  const a = v128.load(x);
  const b = v128.load(y);
  const p = v128.pmax<T>(a, b);
  v128.store(d, p);
  return v128.or(f, miss<T>(a, b, p));
}

/** pmax(pmax(a, b), c) stored at d, the misses of both steps ORed into f. */
// @ts-ignore: decorator
@inline function step3<T>(d: usize, x: usize, y: usize, z: usize, f: v128): v128 {
  const a = v128.load(x);
  const b = v128.load(y);
  const c = v128.load(z);
  const p = v128.pmax<T>(a, b);
  const q = v128.pmax<T>(p, c);
  v128.store(d, q);
  return v128.or(f, v128.or(miss<T>(a, b, p), miss<T>(p, c, q)));
}

/**
 * Fast pass over whole vectors in [d, end); true when some lane needs the
 * exact form. z = 0: two operands. Two flags: one OR chain each halves the
 * loop-carried dependency. Offsets are added here, not left to the loads'
 * immediates: the steps take addresses.
 */
// @ts-ignore: decorator
@inline function fast<T>(d: usize, x: usize, y: usize, z: usize, end: usize): bool {
  let f0 = v128.splat<i64>(0);
  let f1 = v128.splat<i64>(0);
  const end64 = d + ((end - d) & ~(<usize>63));
  if (z == 0) {
    while (d < end64) {
      f0 = step2<T>(d, x, y, f0);
      f1 = step2<T>(d + 16, x + 16, y + 16, f1);
      f0 = step2<T>(d + 32, x + 32, y + 32, f0);
      f1 = step2<T>(d + 48, x + 48, y + 48, f1);
      d += 64;
      x += 64;
      y += 64;
    }
    while (d < end) {
      f0 = step2<T>(d, x, y, f0);
      d += 16;
      x += 16;
      y += 16;
    }
  } else {
    while (d < end64) {
      f0 = step3<T>(d, x, y, z, f0);
      f1 = step3<T>(d + 16, x + 16, y + 16, z + 16, f1);
      f0 = step3<T>(d + 32, x + 32, y + 32, z + 32, f0);
      f1 = step3<T>(d + 48, x + 48, y + 48, z + 48, f1);
      d += 64;
      x += 64;
      y += 64;
      z += 64;
    }
    while (d < end) {
      f0 = step3<T>(d, x, y, z, f0);
      d += 16;
      x += 16;
      y += 16;
      z += 16;
    }
  }
  return v128.any_true(v128.or(f0, f1));
}

/**
 * dst[i] = Math.max(Math.max(a[i], b[i]), c[i]) for i in [0, n), T = f32 or
 * f64; c = 0: Math.max(a[i], b[i]). dst may be a, not b or c: a chunk redone
 * with the exact form reads b and c as they were, and in place a holds
 * pmax of the operands, which is at least a, so the exact form gives the same.
 */
export function maxFloat<T>(dst: usize, a: usize, b: usize, c: usize, n: i32): void {
  const bytes = (<usize>n) << alignof<T>();
  const vecEnd = dst + (bytes & ~(<usize>15));
  let d = dst;
  let x = a;
  let y = b;
  let z = c;
  while (d < vecEnd) {
    const len = min<usize>(CHUNK, vecEnd - d);
    if (fast<T>(d, x, y, z, d + len)) {
      const k = <i32>(len >> alignof<T>());
      if (z == 0) run<T>(OP_MAX, d, x, y, k);
      else run3<T>(OP_MAX, d, x, y, z, k);
    }
    d += len;
    x += len;
    y += len;
    if (z != 0) z += len;
  }
  // The last 0..15 bytes: scalar max<T> is Wasm's fNN.max, exact already.
  const end = dst + bytes;
  while (d < end) {
    let m = max<T>(load<T>(x), load<T>(y));
    if (z != 0) {
      m = max<T>(m, load<T>(z));
      z += sizeof<T>();
    }
    store<T>(d, m);
    d += sizeof<T>();
    x += sizeof<T>();
    y += sizeof<T>();
  }
}
