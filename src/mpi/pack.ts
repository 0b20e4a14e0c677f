import { extentOf, type Datatype } from './datatypes.js';

// Packing walks the flattened blocks of a datatype. The bytes move with
// TypedArray.set/copyWithin, which V8 turns into memmove; the per-block
// overhead makes types of many small blocks slow, so those go to the Wasm
// kernels in the program's memory (program-pack.ts). This is the path for
// everything else, and the reference the kernels are tested against.

/**
 * Packs `count` elements of t found at `base` in `src` into `out` at `at`;
 * returns the new position. `base` may be negative relative to a block when
 * the type has negative displacements: callers pass absolute offsets.
 */
export function packInto(src: Uint8Array, base: number, count: number, t: Datatype, out: Uint8Array, at: number): number {
  if (t.dense !== undefined) {
    const n = count * t.size;
    const from = base + t.dense;
    out.set(src.subarray(from, from + n), at);
    return at + n;
  }
  const ext = extentOf(t);
  const b = t.blocks;
  for (let i = 0; i < count; i++) {
    const e = base + i * ext;
    for (let k = 0; k < b.length; k += 2) {
      const from = e + b[k]!;
      const len = b[k + 1]!;
      out.set(src.subarray(from, from + len), at);
      at += len;
    }
  }
  return at;
}

/**
 * Unpacks up to `count` elements of t from `from` (starting at `at`, at most
 * `limit` bytes) into `dst` at `base`; returns the new position. Stops early,
 * mid-element if need be, when the data runs out (a shorter message).
 */
export function unpackFrom(from: Uint8Array, at: number, limit: number, dst: Uint8Array, base: number, count: number, t: Datatype): number {
  const end = Math.min(at + limit, from.length);
  if (t.dense !== undefined) {
    const n = Math.min(count * t.size, end - at);
    dst.set(from.subarray(at, at + n), base + t.dense);
    return at + n;
  }
  const ext = extentOf(t);
  const b = t.blocks;
  for (let i = 0; i < count && at < end; i++) {
    const e = base + i * ext;
    for (let k = 0; k < b.length && at < end; k += 2) {
      const len = Math.min(b[k + 1]!, end - at);
      dst.set(from.subarray(at, at + len), e + b[k]!);
      at += len;
    }
  }
  return at;
}

/** Bytes from the first to the last byte `count` elements of t touch, relative to the buffer pointer. */
export function spanOf(t: Datatype, count: number): { start: number; length: number } {
  if (count === 0 || t.size === 0) return { start: 0, length: 0 };
  const ext = extentOf(t);
  const first = Math.min(t.trueLb, (count - 1) * ext + t.trueLb);
  const last = Math.max(t.trueUb, (count - 1) * ext + t.trueUb);
  return { start: first, length: last - first };
}

/** One element of a datatype as `blocks` blocks of `len` bytes, `stride` bytes apart, the first at `first`. */
export interface Strided {
  first: number;
  len: number;
  stride: number;
  blocks: number;
}

const stridedCache = new WeakMap<Datatype, Strided | null>();

/**
 * The strided shape of t (vector/hvector types, and any type whose flattened
 * blocks are equal and evenly spaced), or undefined. Such types pack and
 * unpack with the Wasm kernels (assembly/pack.ts) in the program's memory.
 */
export function stridedOf(t: Datatype): Strided | undefined {
  let s = stridedCache.get(t);
  if (s === undefined) {
    s = null;
    const b = t.blocks;
    const k = b.length / 2;
    if (k >= 1 && t.dense === undefined) {
      const len = b[1]!;
      const stride = k > 1 ? b[2]! - b[0]! : 0;
      let ok = len > 0;
      for (let i = 1; ok && i < k; i++) ok = b[2 * i + 1] === len && b[2 * i]! - b[2 * i - 2]! === stride;
      if (ok) s = { first: b[0]!, len, stride, blocks: k };
    }
    stridedCache.set(t, s);
  }
  return s ?? undefined;
}
