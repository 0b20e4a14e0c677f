// Sum and product of wasm32's long double (IEEE binary128, little-endian)
// exactly as the C compiler's own arithmetic gives them: the exact result
// rounded once to nearest, ties to even. Through a double the 113-bit
// significand lost 60 bits, so MPI_SUM of values a double cannot hold gave
// another answer than the program's own loop.

const M64 = (1n << 64n) - 1n;
const M112 = (1n << 112n) - 1n;
const BIT112 = 1n << 112n;
const BIT113 = 1n << 113n;
/** Exponent of the least significant bit of a subnormal (and of the smallest normal's). */
const EMIN_LSB = 1 - 16383 - 112;
const QNAN_HI = 0x7fff800000000000n;

/** A finite binary128 as (-1)^neg * sig * 2^exp, or one of its special values. */
type Quad =
  | { kind: 'fin'; neg: boolean; sig: bigint; exp: number }
  | { kind: 'zero' | 'inf' | 'nan'; neg: boolean };

function decode(dv: DataView, at: number): Quad {
  const lo = dv.getBigUint64(at, true);
  const hi = dv.getBigUint64(at + 8, true);
  const neg = hi >> 63n === 1n;
  const e = Number((hi >> 48n) & 0x7fffn);
  const frac = ((hi & ((1n << 48n) - 1n)) << 64n) | lo;
  if (e === 0x7fff) return { kind: frac === 0n ? 'inf' : 'nan', neg };
  if (e === 0) return frac === 0n ? { kind: 'zero', neg } : { kind: 'fin', neg, sig: frac, exp: EMIN_LSB };
  return { kind: 'fin', neg, sig: frac | BIT112, exp: e - 16383 - 112 };
}

function put(dv: DataView, at: number, neg: boolean, hiBits: bigint, lo: bigint): void {
  dv.setBigUint64(at, lo & M64, true);
  dv.setBigUint64(at + 8, (neg ? 1n << 63n : 0n) | hiBits, true);
}

const special = (dv: DataView, at: number, kind: 'zero' | 'inf' | 'nan', neg: boolean): void =>
  put(dv, at, neg, kind === 'zero' ? 0n : kind === 'inf' ? 0x7fffn << 48n : QNAN_HI, 0n);

function bitLength(x: bigint): number {
  // Hex digits give it to within 3 bits.
  let n = x.toString(16).length * 4;
  while (n > 1 && x >> BigInt(n - 1) === 0n) n--;
  return n;
}

/** Writes (-1)^neg * sig * 2^exp (sig > 0) rounded to nearest-even binary128. */
function encode(dv: DataView, at: number, neg: boolean, sig: bigint, exp: number): void {
  const top = exp + bitLength(sig) - 1;
  const lsb = Math.max(top - 112, EMIN_LSB);
  let m: bigint;
  if (lsb > exp) {
    const shift = BigInt(lsb - exp);
    m = sig >> shift;
    const rest = sig & ((1n << shift) - 1n);
    const half = 1n << (shift - 1n);
    if (rest > half || (rest === half && (m & 1n) === 1n)) m++;
  } else {
    m = sig << BigInt(exp - lsb);
  }
  let q = lsb;
  if (m === BIT113) {
    m >>= 1n;
    q++;
  }
  if (m < BIT112) return put(dv, at, neg, m >> 64n, m); // subnormal (or rounded to zero)
  const e = q + 112 + 16383;
  if (e >= 0x7fff) return special(dv, at, 'inf', neg);
  put(dv, at, neg, (BigInt(e) << 48n) | ((m & M112) >> 64n), m);
}

function copy(dst: DataView, dAt: number, src: DataView, sAt: number): void {
  dst.setBigUint64(dAt, src.getBigUint64(sAt, true), true);
  dst.setBigUint64(dAt + 8, src.getBigUint64(sAt + 8, true), true);
}

/** dst[dAt] = a[aAt] + b[bAt] (dst may be a or b). */
export function quadAdd(dst: DataView, dAt: number, a: DataView, aAt: number, b: DataView, bAt: number): void {
  const x = decode(a, aAt);
  const y = decode(b, bAt);
  if (x.kind === 'nan') return copy(dst, dAt, a, aAt);
  if (y.kind === 'nan') return copy(dst, dAt, b, bAt);
  if (x.kind === 'inf' || y.kind === 'inf') {
    if (x.kind === 'inf' && y.kind === 'inf' && x.neg !== y.neg) return special(dst, dAt, 'nan', false);
    return special(dst, dAt, 'inf', x.kind === 'inf' ? x.neg : y.neg);
  }
  if (x.kind === 'zero' && y.kind === 'zero') return special(dst, dAt, 'zero', x.neg && y.neg);
  if (x.kind === 'zero') return copy(dst, dAt, b, bAt);
  if (y.kind === 'zero') return copy(dst, dAt, a, aAt);
  const fx = x as Extract<Quad, { kind: 'fin' }>;
  const fy = y as Extract<Quad, { kind: 'fin' }>;
  const exp = Math.min(fx.exp, fy.exp);
  const s = (fx.neg ? -1n : 1n) * (fx.sig << BigInt(fx.exp - exp)) + (fy.neg ? -1n : 1n) * (fy.sig << BigInt(fy.exp - exp));
  // An exact zero sum is +0 when rounding to nearest (IEEE 754 §6.3).
  if (s === 0n) return special(dst, dAt, 'zero', false);
  encode(dst, dAt, s < 0n, s < 0n ? -s : s, exp);
}

/** dst[dAt] = a[aAt] * b[bAt] (dst may be a or b). */
export function quadMul(dst: DataView, dAt: number, a: DataView, aAt: number, b: DataView, bAt: number): void {
  const x = decode(a, aAt);
  const y = decode(b, bAt);
  const neg = x.neg !== y.neg;
  if (x.kind === 'nan') return copy(dst, dAt, a, aAt);
  if (y.kind === 'nan') return copy(dst, dAt, b, bAt);
  if (x.kind === 'inf' || y.kind === 'inf') return special(dst, dAt, x.kind === 'zero' || y.kind === 'zero' ? 'nan' : 'inf', neg);
  if (x.kind === 'zero' || y.kind === 'zero') return special(dst, dAt, 'zero', neg);
  const fx = x as Extract<Quad, { kind: 'fin' }>;
  const fy = y as Extract<Quad, { kind: 'fin' }>;
  encode(dst, dAt, neg, fx.sig * fy.sig, fx.exp + fy.exp);
}

/** Flips the sign of the binary128 at byte `at`. */
export function quadNegate(dv: DataView, at: number): void {
  dv.setUint8(at + 15, dv.getUint8(at + 15) ^ 0x80);
}
