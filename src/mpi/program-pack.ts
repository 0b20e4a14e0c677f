import { kernelModule } from '../kernels/arena.js';
import { extentOf, type Datatype } from './datatypes.js';
import type { ProgramHost } from './memory.js';
import { stridedOf, unpackFrom } from './pack.js';

// Packing derived datatypes with the Wasm kernels of assembly/pack.ts, run
// over the program's own memory: the strided kernels for evenly strided
// types, the block-list kernels (a table of (disp, len) pairs in the
// program's memory, one per datatype) for everything else. Data that comes
// from or goes to JS (sends, receives) passes through a scratch buffer from
// the program's malloc.
//
// A malloc may grow the program's memory, which detaches every view of it.
// Nothing here keeps a view across a malloc; callers must not lend fmi a view
// of the program's memory before calling something here that may allocate
// (reserve first with prepare(): see MPI_Sendrecv).

/** packStrided/unpackStrided: (dst, src, len, stride, blocks, extent, count) -> bytes. */
type StridedFn = (dst: number, src: number, len: number, stride: number, blocks: number, extent: number, count: number) => number;
/** packBlocks: (dst, src, table, blocks, extent, count) -> bytes. */
type PackBlocksFn = (dst: number, src: number, table: number, blocks: number, extent: number, count: number) => number;
/** unpackBlocks: (dst, src, table, blocks, extent, count, limit) -> bytes read. */
type UnpackBlocksFn = (dst: number, src: number, table: number, blocks: number, extent: number, count: number, limit: number) => number;

interface PackKernels {
  packStrided: StridedFn;
  unpackStrided: StridedFn;
  packBlocks: PackBlocksFn;
  unpackBlocks: UnpackBlocksFn;
}

/**
 * Below this many blocks a pack stays in JS: a Wasm call (and, for sends and
 * receives, the copy through scratch space) costs about as much as a few
 * block copies through TypedArray.set. bench/mpi/pack.mjs: a receive through
 * the kernel wins from 3 blocks, a send copied out of scratch space from
 * about 12 (allocating the copy costs ~0.4 us).
 */
export const STRIDED_MIN_BLOCKS = 8;
export let BLOCKS_MIN_BLOCKS = 8;

/**
 * From this average block size on, packing that must copy through scratch
 * space (read, write) stays in JS: each block is one memmove either way, and
 * the copy costs more than the per-block calls save (bench/mpi/pack.mjs,
 * 1 KiB blocks: 0.3-0.6x). Lent scratch space (blocking sends and receives)
 * has no copy and always pays.
 */
export const COPY_MAX_AVG_BLOCK = 1024;

/** Packed sizes below this are copied out of scratch space by Uint8Array#slice, larger ones by ArrayBuffer#slice (faster there). */
const SMALL_COPY = 64 << 10;

/** Sets BLOCKS_MIN_BLOCKS (benchmarks and tests: 0 sends every non-dense type to the kernels); returns the old value. */
export function setBlocksMinBlocks(n: number): number {
  const old = BLOCKS_MIN_BLOCKS;
  BLOCKS_MIN_BLOCKS = n;
  return old;
}

/** Scratch space grows in steps of this much, so that it is rarely reallocated. */
const SCRATCH_STEP = 64 << 10;

type Route = 'strided' | 'blocks';

/** The scratch buffer lent to one operation: `bytes` bytes at `ptr` in the program's memory. */
export interface Lease {
  ptr: number;
  bytes: number;
  release: () => void;
}

/** The pack kernels over one program's memory, its block tables and its scratch buffer. */
export class ProgramPacker {
  readonly #host: ProgramHost;
  #kernels: PackKernels | null | undefined;
  /** Block table (i32 pairs in the program's memory) per datatype. */
  readonly #tables = new Map<Datatype, number>();
  #scratch = 0;
  #scratchSize = 0;
  /** Set while a receive lands in the scratch buffer: nothing else may use it then. */
  #lent = false;

  constructor(host: ProgramHost) {
    this.#host = host;
  }

  /** The kernels instantiated over the program's memory; undefined without one (or with a shared one): callers use JS. */
  kernels(): PackKernels | undefined {
    if (this.#kernels === undefined) {
      this.#kernels = null;
      const m = this.#host.memory?.();
      if (m !== undefined && !(m.buffer instanceof SharedArrayBuffer)) {
        const x = new WebAssembly.Instance(kernelModule(false), { env: { memory: m } }).exports;
        if (typeof x.packBlocks === 'function' && typeof x.unpackBlocks === 'function') this.#kernels = x as unknown as PackKernels;
      }
    }
    return this.#kernels ?? undefined;
  }

  /**
   * Which kernel packs `count` elements of t, or undefined for JS (dense,
   * empty, too few blocks, no kernels; with `copies`, big blocks).
   */
  #route(t: Datatype, count: number, copies = false): Route | undefined {
    if (t.dense !== undefined || count <= 0 || t.size === 0) return undefined;
    const s = stridedOf(t);
    const blocks = s ? s.blocks : t.blocks.length / 2;
    if (count * blocks < (s ? STRIDED_MIN_BLOCKS : BLOCKS_MIN_BLOCKS)) return undefined;
    if (copies && t.size >= COPY_MAX_AVG_BLOCK * blocks) return undefined;
    return this.kernels() ? (s ? 'strided' : 'blocks') : undefined;
  }

  /** t's block table in the program's memory (made on first use; may malloc), or 0 when malloc fails. */
  #table(t: Datatype): number {
    let p = this.#tables.get(t);
    if (p === undefined) {
      const pairs = Int32Array.from(t.blocks);
      p = this.#host.malloc(pairs.byteLength);
      if (p === 0) return 0;
      this.#host.heap().set(new Uint8Array(pairs.buffer), p >>> 0);
      this.#tables.set(t, p);
    }
    return p;
  }

  /** A scratch buffer of at least n bytes (may malloc), or 0. */
  #reserve(n: number): number {
    if (this.#lent) return 0;
    if (n > this.#scratchSize) {
      if (this.#scratch !== 0) this.#host.free(this.#scratch);
      const size = Math.ceil(Math.max(n, this.#scratchSize * 1.5) / SCRATCH_STEP) * SCRATCH_STEP;
      this.#scratch = this.#host.malloc(size);
      this.#scratchSize = this.#scratch === 0 ? 0 : size;
    }
    return this.#scratch >>> 0;
  }

  /** Packs with the kernel of `how`; false when the block table cannot be made. */
  #pack(how: Route, src: number, count: number, t: Datatype, dst: number): boolean {
    const k = this.kernels()!;
    if (how === 'strided') {
      const s = stridedOf(t)!;
      k.packStrided(dst >>> 0, ((src >>> 0) + s.first) >>> 0, s.len, s.stride, s.blocks, extentOf(t), count);
      return true;
    }
    const table = this.#table(t);
    if (table === 0) return false;
    k.packBlocks(dst >>> 0, src >>> 0, table, t.blocks.length / 2, extentOf(t), count);
    return true;
  }

  /** Unpacks up to `limit` packed bytes (a short message fills a prefix); false when the block table cannot be made. */
  #unpack(how: Route, src: number, limit: number, count: number, t: Datatype, dst: number): boolean {
    const k = this.kernels()!;
    if (how === 'strided') {
      // The strided kernel does whole elements; a partial last one is a few blocks for JS.
      const s = stridedOf(t)!;
      const whole = Math.min(count, Math.floor(limit / t.size));
      k.unpackStrided(((dst >>> 0) + s.first) >>> 0, src >>> 0, s.len, s.stride, s.blocks, extentOf(t), whole);
      const rest = Math.min(limit, count * t.size) - whole * t.size;
      if (rest > 0) {
        const heap = this.#host.heap();
        unpackFrom(heap, (src >>> 0) + whole * t.size, rest, heap, (dst >>> 0) + whole * extentOf(t), 1, t);
      }
      return true;
    }
    const table = this.#table(t);
    if (table === 0) return false;
    k.unpackBlocks(dst >>> 0, src >>> 0, table, t.blocks.length / 2, extentOf(t), count, limit);
    return true;
  }

  /** Packs `count` elements of t at src to dst, both in the program's memory; false: the caller packs in JS. */
  packWithin(src: number, count: number, t: Datatype, dst: number): boolean {
    const how = this.#route(t, count);
    return how !== undefined && this.#pack(how, src, count, t, dst);
  }

  /** The inverse of packWithin (all `count` elements). */
  unpackWithin(src: number, count: number, t: Datatype, dst: number): boolean {
    const how = this.#route(t, count);
    return how !== undefined && this.#unpack(how, src, count * t.size, count, t, dst);
  }

  /**
   * The packed bytes of `count` elements of t at ptr, packed by a kernel into
   * scratch space and copied out; undefined when JS should pack (see #route,
   * or no memory for scratch space).
   */
  read(ptr: number, count: number, t: Datatype): Uint8Array | undefined {
    const how = this.#route(t, count, true);
    if (how === undefined) return undefined;
    const n = count * t.size;
    const scratch = this.#reserve(n);
    if (scratch === 0 || !this.#pack(how, ptr, count, t, scratch)) return undefined;
    const heap = this.#host.heap();
    return n < SMALL_COPY ? heap.slice(scratch, scratch + n) : new Uint8Array(heap.buffer.slice(scratch, scratch + n));
  }

  /**
   * Unpacks `bytes` (at most count elements of t, the last one possibly
   * partial) into the program at ptr through scratch space; false when JS
   * should. `bytes` must not be a view of the program's memory.
   */
  write(ptr: number, count: number, t: Datatype, bytes: Uint8Array): boolean {
    const how = this.#route(t, count, true);
    if (how === undefined || bytes.buffer === this.#host.heap().buffer) return false;
    const scratch = this.#reserve(bytes.byteLength);
    if (scratch === 0) return false;
    this.#host.heap().set(bytes, scratch);
    return this.#unpack(how, scratch, bytes.byteLength, count, t, ptr);
  }

  /**
   * Makes the block table and scratch space a later read/write of `count`
   * elements of t will use, so that it allocates nothing: for calls that
   * lend fmi a view of the program's memory before they unpack.
   */
  prepare(count: number, t: Datatype): void {
    const how = this.#route(t, count);
    if (how === undefined) return;
    this.#reserve(count * t.size);
    if (how === 'blocks') this.#table(t);
  }

  /**
   * Lends the scratch buffer to a receive of up to `count` elements of t:
   * its address (the caller views it only while the program sleeps) and a
   * function that unpacks what arrived. Undefined when the kernels do not
   * apply or the buffer is in use. The caller must release() it.
   */
  lend(count: number, t: Datatype): Lease & { unpack: (dst: number, bytes: number) => void } | undefined {
    const how = this.#route(t, count);
    if (how === undefined) return undefined;
    const scratch = this.#reserve(count * t.size);
    if (scratch === 0 || (how === 'blocks' && this.#table(t) === 0)) return undefined;
    return { ...this.#lease(scratch, count * t.size), unpack: (dst, bytes) => void this.#unpack(how, scratch, bytes, count, t, dst) };
  }

  /**
   * Packs `count` elements of t at src into the scratch buffer and lends it,
   * for a blocking send to send a view of (no JS copy); undefined as for
   * read() or when the buffer is in use. The caller must release() it.
   */
  lendPacked(src: number, count: number, t: Datatype): Lease | undefined {
    const how = this.#route(t, count);
    if (how === undefined) return undefined;
    const scratch = this.#reserve(count * t.size);
    if (scratch === 0 || !this.#pack(how, src, count, t, scratch)) return undefined;
    return this.#lease(scratch, count * t.size);
  }

  #lease(ptr: number, bytes: number): Lease {
    this.#lent = true;
    return {
      ptr,
      bytes,
      release: () => {
        this.#lent = false;
      },
    };
  }

  /** Frees t's block table (MPI_Type_free). */
  forget(t: Datatype): void {
    const p = this.#tables.get(t);
    if (p === undefined) return;
    this.#tables.delete(t);
    this.#host.free(p);
  }

  /** Frees every table and the scratch buffer (MPI_Finalize). */
  release(): void {
    for (const p of this.#tables.values()) this.#host.free(p);
    this.#tables.clear();
    if (this.#scratch !== 0 && !this.#lent) this.#host.free(this.#scratch);
    this.#scratch = 0;
    this.#scratchSize = 0;
  }
}
