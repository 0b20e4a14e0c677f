// wasm32's long double is IEEE binary128, little-endian. JS has no such
// number: these read one as the nearest double, write a double exactly as
// one, and order two exactly (for MAX/MIN, MINLOC/MAXLOC).

const M64 = (1n << 64n) - 1n;
const M48 = (1n << 48n) - 1n;
const M112 = (1n << 112n) - 1n;
const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** The binary128 at byte `at` of dv, rounded to the nearest double. */
export function quadToDouble(dv: DataView, at: number): number {
  const lo = dv.getBigUint64(at, true);
  const hi = dv.getBigUint64(at + 8, true);
  const neg = hi >> 63n === 1n;
  const exp = Number((hi >> 48n) & 0x7fffn);
  const frac = ((hi & M48) << 64n) | lo;
  let v: number;
  if (exp === 0x7fff) v = frac === 0n ? Infinity : NaN;
  else if (exp === 0 && frac === 0n) v = 0;
  else {
    // Number(bigint) rounds to nearest; the scaling by a power of two is exact within the double range.
    const sig = exp === 0 ? frac : frac | (1n << 112n);
    const e = (exp === 0 ? 1 : exp) - 16383 - 112;
    const half = Math.trunc(e / 2);
    v = Number(sig) * 2 ** half * 2 ** (e - half);
  }
  return neg ? -v : v;
}

/** Writes double x at byte `at` of dv as a binary128 (exact: every double is one). */
export function doubleToQuad(x: number, dv: DataView, at: number): void {
  f64[0] = x;
  const bits = u64[0]!;
  const sign = bits >> 63n;
  const dexp = Number((bits >> 52n) & 0x7ffn);
  const dfrac = bits & ((1n << 52n) - 1n);
  let exp: bigint;
  let frac: bigint;
  if (dexp === 0x7ff) {
    exp = 0x7fffn;
    frac = dfrac << 60n;
  } else if (dexp === 0 && dfrac === 0n) {
    exp = 0n;
    frac = 0n;
  } else if (dexp === 0) {
    // A subnormal double is a normal binary128: put its leading 1 in front.
    const p = dfrac.toString(2).length - 1;
    exp = BigInt(p - 1074 + 16383);
    frac = (dfrac << BigInt(112 - p)) & M112;
  } else {
    exp = BigInt(dexp - 1023 + 16383);
    frac = dfrac << 60n;
  }
  dv.setBigUint64(at, frac & M64, true);
  dv.setBigUint64(at + 8, (sign << 63n) | (exp << 48n) | (frac >> 64n), true);
}

/** A key that orders binary128 values exactly (-0 equals +0; NaNs are not ordered meaningfully). */
export function quadKey(dv: DataView, at: number): bigint {
  const lo = dv.getBigUint64(at, true);
  const hi = dv.getBigUint64(at + 8, true);
  const mag = ((hi & ((1n << 63n) - 1n)) << 64n) | lo;
  return hi >> 63n === 1n ? -mag : mag;
}
