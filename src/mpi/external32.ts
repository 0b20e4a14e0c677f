import { Err } from './abi.js';
import { AINT_UNIT, WCHAR_UNIT, type Datatype } from './datatypes.js';
import { MpiError } from './errors.js';
import type { Impl, MpiRuntime } from './runtime.js';

// MPI_Pack_external and friends (MPI 3.1 §4.3): "external32" is the packed
// data big-endian, each basic element at its external32 size. On wasm32
// that is the native size for every type but MPI_AINT (4 bytes here, 8 in
// external32, sign-extended) and MPI_WCHAR (4 bytes here, 2 in external32:
// MPI 3.1 Table 13.2; a character past U+FFFF does not fit and is
// MPI_ERR_CONVERSION); complex numbers swap each part on its own.

function checkDatarep(rt: MpiRuntime, ptr: number): void {
  const rep = rt.mem.cstring(ptr);
  if (rep !== 'external32') throw new MpiError(Err.UNSUPPORTED_DATAREP, `datarep must be "external32", got "${rep}"`);
}

/** Bytes of one element of t in external32. */
export function externalSize(t: Datatype): number {
  let n = 0;
  for (let k = 0; k < t.swap.length; k += 2) n += externalUnit(t.swap[k]!) * t.swap[k + 1]!;
  return n;
}

const externalUnit = (unit: number): number => (unit === AINT_UNIT ? 8 : unit === WCHAR_UNIT ? 2 : unit);

/** Native packed bytes of `count` elements of t -> external32. */
export function toExternal(t: Datatype, count: number, native: Uint8Array): Uint8Array {
  const out = new Uint8Array(count * externalSize(t));
  const dv = new DataView(out.buffer);
  const src = new DataView(native.buffer, native.byteOffset, native.byteLength);
  let i = 0;
  let o = 0;
  for (let e = 0; e < count; e++) {
    for (let k = 0; k < t.swap.length; k += 2) {
      const unit = t.swap[k]!;
      for (let c = t.swap[k + 1]!; c > 0; c--) {
        if (unit === AINT_UNIT) {
          dv.setBigInt64(o, BigInt(src.getInt32(i, true)), false);
          i += 4;
          o += 8;
          continue;
        }
        if (unit === WCHAR_UNIT) {
          const c = src.getUint32(i, true);
          if (c > 0xffff) throw new MpiError(Err.CONVERSION, `the wide character U+${c.toString(16).toUpperCase()} does not fit external32's 2-byte MPI_WCHAR`);
          dv.setUint16(o, c, false);
          i += 4;
          o += 2;
          continue;
        }
        for (let b = 0; b < unit; b++) out[o + b] = native[i + unit - 1 - b]!;
        i += unit;
        o += unit;
      }
    }
  }
  return out;
}

/** external32 bytes of `count` elements of t -> native packed bytes. */
export function fromExternal(t: Datatype, count: number, ext: Uint8Array): Uint8Array {
  const out = new Uint8Array(count * t.size);
  const dv = new DataView(out.buffer);
  const src = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
  let i = 0;
  let o = 0;
  for (let e = 0; e < count; e++) {
    for (let k = 0; k < t.swap.length; k += 2) {
      const unit = t.swap[k]!;
      for (let c = t.swap[k + 1]!; c > 0; c--) {
        if (unit === AINT_UNIT) {
          const v = src.getBigInt64(i, false);
          if (v < -(2n ** 31n) || v >= 2n ** 31n) throw new MpiError(Err.CONVERSION, `the external32 MPI_AINT ${v} does not fit wasm32's 4-byte MPI_Aint`);
          dv.setInt32(o, Number(v), true);
          i += 8;
          o += 4;
          continue;
        }
        if (unit === WCHAR_UNIT) {
          dv.setUint32(o, src.getUint16(i, false), true);
          i += 2;
          o += 4;
          continue;
        }
        for (let b = 0; b < unit; b++) out[o + b] = ext[i + unit - 1 - b]!;
        i += unit;
        o += unit;
      }
    }
  }
  return out;
}

export const EXTERNAL32_IMPLS: Record<string, Impl> = {
  MPI_Pack_external(rt, datarep, inbuf, count, th, outbuf, outsize, posPtr) {
    checkDatarep(rt, datarep);
    const t = rt.datatype(th);
    const pos = rt.mem.i32(posPtr);
    const ext = toExternal(t, rt.count(count), rt.read(inbuf, count, th, true));
    if (pos < 0 || pos + ext.byteLength > outsize) {
      throw new MpiError(Err.TRUNCATE, `packing ${ext.byteLength} bytes at position ${pos} overflows the ${outsize}-byte buffer`);
    }
    rt.mem.u8().set(ext, (outbuf >>> 0) + pos);
    rt.mem.setI32(posPtr, pos + ext.byteLength);
    return 0;
  },

  MPI_Unpack_external(rt, datarep, inbuf, insize, posPtr, outbuf, count, th) {
    checkDatarep(rt, datarep);
    const t = rt.datatype(th);
    const pos = rt.mem.i32(posPtr);
    const n = rt.count(count) * externalSize(t);
    if (pos < 0 || pos + n > insize) throw new MpiError(Err.TRUNCATE, `unpacking ${n} bytes at position ${pos} reads past the ${insize}-byte buffer`);
    const native = fromExternal(t, count, rt.mem.copy((inbuf >>> 0) + pos, n));
    rt.write(outbuf, count, th, native);
    rt.mem.setI32(posPtr, pos + n);
    return 0;
  },

  MPI_Pack_external_size(rt, datarep, count, th, out) {
    checkDatarep(rt, datarep);
    rt.mem.setI32(out, rt.count(count) * externalSize(rt.datatype(th, false)));
    return 0;
  },
};
