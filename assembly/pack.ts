// Pack and unpack kernels for strided layouts (MPI vector/hvector datatypes
// and anything whose element is `blocks` equal blocks at a fixed stride):
// gather the blocks into one packed run, or scatter a packed run back. Like
// apply(), they work on byte offsets into the imported memory, so they run
// over another program's memory too. Source and destination must not overlap.

/** Copies len bytes; unaligned addresses are fine. */
// @ts-ignore: decorator
@inline function copyBytes(dst: usize, src: usize, len: usize): void {
  let i: usize = 0;
  for (; i + 16 <= len; i += 16) v128.store(dst + i, v128.load(src + i));
  if (i + 8 <= len) { store<u64>(dst + i, load<u64>(src + i)); i += 8; }
  if (i + 4 <= len) { store<u32>(dst + i, load<u32>(src + i)); i += 4; }
  for (; i < len; i++) store<u8>(dst + i, load<u8>(src + i));
}

/**
 * One pass over `count` elements `extent` bytes apart, each `blocks` blocks
 * of `len` bytes `stride` bytes apart, starting at `strided`; `packed` is the
 * contiguous side. pack: strided -> packed; otherwise packed -> strided.
 * Common block sizes get their own loops (one load and store per block).
 */
// @ts-ignore: decorator
@inline function walk(pack: bool, packed: usize, strided: usize, len: i32, stride: i32, blocks: i32, extent: i32, count: i32): void {
  const l = <usize>len;
  for (let e = 0; e < count; e++) {
    let s = <usize>(<i32>strided + e * extent);
    if (len == 8) {
      for (let b = 0; b < blocks; b++) {
        if (pack) store<u64>(packed, load<u64>(s)); else store<u64>(s, load<u64>(packed));
        packed += 8;
        s = <usize>(<i32>s + stride);
      }
    } else if (len == 4) {
      for (let b = 0; b < blocks; b++) {
        if (pack) store<u32>(packed, load<u32>(s)); else store<u32>(s, load<u32>(packed));
        packed += 4;
        s = <usize>(<i32>s + stride);
      }
    } else if (len == 16) {
      for (let b = 0; b < blocks; b++) {
        if (pack) v128.store(packed, v128.load(s)); else v128.store(s, v128.load(packed));
        packed += 16;
        s = <usize>(<i32>s + stride);
      }
    } else {
      for (let b = 0; b < blocks; b++) {
        if (pack) copyBytes(packed, s, l); else copyBytes(s, packed, l);
        packed += l;
        s = <usize>(<i32>s + stride);
      }
    }
  }
}

/**
 * Packs `count` elements of a strided layout at `src` into `dst`: for each
 * element e (at src + e * extent), blocks b in order (at + b * stride), `len`
 * bytes each. Strides and extents may be negative. Returns the bytes written,
 * or -1 for negative arguments.
 */
export function packStrided(dst: usize, src: usize, len: i32, stride: i32, blocks: i32, extent: i32, count: i32): i32 {
  if (len < 0 || blocks < 0 || count < 0) return -1;
  walk(true, dst, src, len, stride, blocks, extent, count);
  return len * blocks * count;
}

/** The inverse of packStrided: scatters the packed bytes at `src` into the strided layout at `dst`. */
export function unpackStrided(dst: usize, src: usize, len: i32, stride: i32, blocks: i32, extent: i32, count: i32): i32 {
  if (len < 0 || blocks < 0 || count < 0) return -1;
  walk(false, src, dst, len, stride, blocks, extent, count);
  return len * blocks * count;
}

/**
 * Copies one block of a block list. Blocks of 4, 8 and 16 bytes (an int, a
 * double, a pair) are one load and store; big ones go to memory.copy (V8's
 * memmove), which beats a vector loop from a few hundred bytes on.
 */
// @ts-ignore: decorator
@inline function copyBlock(dst: usize, src: usize, len: usize): void {
  if (len == 8) store<u64>(dst, load<u64>(src));
  else if (len == 4) store<u32>(dst, load<u32>(src));
  else if (len == 16) v128.store(dst, v128.load(src));
  else if (len >= 256) memory.copy(dst, src, len);
  else copyBytes(dst, src, len);
}

/**
 * Packs `count` elements of a general layout at `src` into `dst`: element e
 * is at src + e * extent, its blocks are the `blocks` (disp, len) pairs of
 * i32 at `table`, in order (MPI typemap order, so displacements may go
 * backwards or be negative). Returns the bytes written, or -1 for negative
 * arguments.
 */
export function packBlocks(dst: usize, src: usize, table: usize, blocks: i32, extent: i32, count: i32): i32 {
  if (blocks < 0 || count < 0) return -1;
  const end = table + ((<usize>blocks) << 3);
  let out = dst;
  for (let e = 0; e < count; e++) {
    const base = <i32>src + e * extent;
    for (let p = table; p < end; p += 8) {
      const len = <usize>load<i32>(p, 4);
      copyBlock(out, <usize>(base + load<i32>(p)), len);
      out += len;
    }
  }
  return <i32>(out - dst);
}

/**
 * The inverse of packBlocks: scatters packed bytes at `src` into `count`
 * elements at `dst`, reading at most `limit` bytes. A shorter message stops
 * mid-element, mid-block if need be, as MPI fills a receive buffer. Returns
 * the bytes read, or -1 for negative arguments.
 */
export function unpackBlocks(dst: usize, src: usize, table: usize, blocks: i32, extent: i32, count: i32, limit: i32): i32 {
  if (blocks < 0 || count < 0 || limit < 0) return -1;
  const end = table + ((<usize>blocks) << 3);
  let size: usize = 0;
  for (let p = table; p < end; p += 8) size += <usize>load<i32>(p, 4);
  const stop = src + <usize>limit;
  let from = src;
  for (let e = 0; e < count && from < stop; e++) {
    const base = <i32>dst + e * extent;
    if (stop - from >= size) {
      for (let p = table; p < end; p += 8) {
        const len = <usize>load<i32>(p, 4);
        copyBlock(<usize>(base + load<i32>(p)), from, len);
        from += len;
      }
    } else {
      // The last, partial element: clip each block to what is left.
      for (let p = table; p < end && from < stop; p += 8) {
        let len = <usize>load<i32>(p, 4);
        if (len > stop - from) len = stop - from;
        copyBytes(<usize>(base + load<i32>(p)), from, len);
        from += len;
      }
    }
  }
  return <i32>(from - src);
}
