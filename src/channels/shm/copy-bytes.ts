/**
 * Byte copies into or out of shared memory (a SharedArrayBuffer, a shared
 * WebAssembly.Memory) from or to any other buffer, at memcpy speed. Every
 * JS copy that touches shared memory (TypedArray set and slice, Buffer
 * copy) moves a word at a time (V8's relaxed memmove): 43 us per MiB here
 * where memcpy takes 23 (bench/shm-arena-phases.mjs). Buffer#fill with a
 * buffer as its value is one memcpy in Node's C++ when that value is as
 * long as the range it fills. Below FILL_MIN a set is as fast (the fill
 * costs a view and a call into C++).
 */
const FILL_MIN = 8192;

/** `src` into `dst` from byte `at` on; the two must not overlap (a copy within one buffer takes copyWithin). */
export function copyBytes(dst: Uint8Array, at: number, src: Uint8Array): void {
  const n = src.byteLength;
  if (n < FILL_MIN || at < 0 || at + n > dst.byteLength || src.buffer === dst.buffer) dst.set(src, at);
  else Buffer.from(dst.buffer, dst.byteOffset + at, n).fill(src);
}

/** A copy of `src` in a buffer of its own (a slice() of shared memory, at memcpy speed). */
export function copyOf(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.byteLength);
  copyBytes(out, 0, src);
  return out;
}
