// wasm32's long double is IEEE binary128, little-endian. JS has no such
// number: this orders two exactly (for MAX/MIN, MINLOC/MAXLOC); sums and
// products are in quad-arith.ts.

/** A key that orders binary128 values exactly (-0 equals +0; NaNs are not ordered meaningfully). */
export function quadKey(dv: DataView, at: number): bigint {
  const lo = dv.getBigUint64(at, true);
  const hi = dv.getBigUint64(at + 8, true);
  const mag = ((hi & ((1n << 63n) - 1n)) << 64n) | lo;
  return hi >> 63n === 1n ? -mag : mag;
}
