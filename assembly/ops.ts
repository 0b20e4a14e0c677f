// Per-lane and per-element operations, generic over the element type T.
//
// `op` is always a compile-time constant at the call site (see loop.ts), so
// after inlining Binaryen folds every `if (op == ...)` away and each kernel
// is a straight SIMD loop body. Branches on isInteger<T>() / sizeof<T>() are
// resolved by the compiler itself.

import {
  OP_SUM, OP_PROD, OP_MIN, OP_MAX, OP_LAND, OP_LOR, OP_LXOR, OP_BAND, OP_BOR,
} from './codes';

/** i8x16 has no multiply: do it in 16-bit lanes and keep the low bytes. */
// @ts-ignore: decorator
@inline function mulI8x16(a: v128, b: v128): v128 {
  // Low byte of a 16-bit product only depends on the low bytes of the factors,
  // so even lanes come from a plain i16x8.mul, odd lanes from the high bytes
  // shifted down, multiplied, and shifted back up.
  const even = v128.and(i16x8.mul(a, b), i16x8.splat(0x00ff));
  const odd = i16x8.shl(i16x8.mul(i16x8.shr_u(a, 8), i16x8.shr_u(b, 8)), 8);
  return v128.or(even, odd);
}

/** Lane mask a > b for 64-bit lanes; SIMD only has the signed compare. */
// @ts-ignore: decorator
@inline function gtI64x2<T>(a: v128, b: v128): v128 {
  if (isSigned<T>()) return i64x2.gt_s(a, b);
  // Flipping the sign bit maps unsigned order onto signed order.
  const bias = i64x2.splat(0x8000000000000000);
  return i64x2.gt_s(v128.xor(a, bias), v128.xor(b, bias));
}

// Float MIN/MAX with Math.min/Math.max rules: a NaN in either lane gives a
// NaN, and -0 < +0. f32x4/f64x2.min/max have exactly these rules, but V8
// lowers each to eight x64 instructions (MAX ran at half SUM's speed), while
// pmin/pmax (`b < a ? b : a`, `a < b ? b : a`) are one minps/maxps each; the
// forms below take three (MIN) and five (MAX). A NaN result is a quiet NaN
// whose sign and payload depend on the inputs, as Wasm allows for min/max
// too; Math.min/max and JS reads see NaN. Float MAX kernels run the fast
// pass of max-float.ts and fall back to this form only for chunks with a NaN
// or a -0 against +0.
//
// With p = pmin(a, b) and q = pmin(b, a) (likewise pmax): when neither input
// is NaN, p and q are the same number, bit for bit unless a and b are zeros
// of different signs. When one is NaN, one of p and q is that NaN.

/** Math.min over lanes: OR picks -0 from mixed zeros and keeps a NaN a NaN (exponent all ones, mantissa non-zero). */
// @ts-ignore: decorator
@inline function minFloat<T>(a: v128, b: v128): v128 {
  return v128.or(v128.pmin<T>(a, b), v128.pmin<T>(b, a));
}

/**
 * Math.max over lanes: AND picks +0 from mixed zeros but could turn a NaN
 * into a number, so lanes where p != q (only when one is NaN: mixed zeros
 * compare equal) are set to all ones, a NaN.
 */
// @ts-ignore: decorator
@inline function maxFloat<T>(a: v128, b: v128): v128 {
  const p = v128.pmax<T>(a, b);
  const q = v128.pmax<T>(b, a);
  return v128.or(v128.and(p, q), v128.ne<T>(p, q));
}

/** a op b over one v128 of T lanes. */
// @ts-ignore: decorator
@inline export function vop<T>(op: i32, a: v128, b: v128): v128 {
  if (op == OP_SUM) return v128.add<T>(a, b);
  if (op == OP_PROD) {
    if (sizeof<T>() == 1) return mulI8x16(a, b);
    return v128.mul<T>(a, b);
  }
  if (op == OP_MIN) {
    if (isFloat<T>()) return minFloat<T>(a, b);
    if (sizeof<T>() == 8) return v128.bitselect(b, a, gtI64x2<T>(a, b));
    return v128.min<T>(a, b);
  }
  if (op == OP_MAX) {
    if (isFloat<T>()) return maxFloat<T>(a, b);
    if (sizeof<T>() == 8) return v128.bitselect(a, b, gtI64x2<T>(a, b));
    return v128.max<T>(a, b);
  }
  if (isInteger<T>()) {
    if (op == OP_BAND) return v128.and(a, b);
    if (op == OP_BOR) return v128.or(a, b);
    if (op >= OP_LAND) {
      if (op <= OP_LXOR) {
        // Logical ops give 1 or 0 in the element type.
        const zero = v128.splat<T>(<T>0);
        const one = v128.splat<T>(<T>1);
        const za = v128.eq<T>(a, zero);
        const zb = v128.eq<T>(b, zero);
        if (op == OP_LAND) return v128.andnot(one, v128.or(za, zb));
        if (op == OP_LOR) return v128.andnot(one, v128.and(za, zb));
        return v128.and(one, v128.xor(za, zb));
      }
    }
    return v128.xor(a, b); // OP_BXOR
  }
  return a; // unreachable: floats only get SUM/PROD/MIN/MAX
}

/** a op b for one element of T; integer arithmetic wraps on store. */
// @ts-ignore: decorator
@inline export function sop<T>(op: i32, a: T, b: T): T {
  if (op == OP_SUM) return a + b;
  if (op == OP_PROD) return a * b;
  if (op == OP_MIN) return min<T>(a, b);
  if (op == OP_MAX) return max<T>(a, b);
  if (isInteger<T>()) {
    if (op == OP_BAND) return a & b;
    if (op == OP_BOR) return a | b;
    if (op == OP_LAND) return <T>((a != 0) & (b != 0));
    if (op == OP_LOR) return <T>((a != 0) | (b != 0));
    if (op == OP_LXOR) return <T>((a != 0) ^ (b != 0));
    return a ^ b; // OP_BXOR
  }
  return a;
}
