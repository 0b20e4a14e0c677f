// Wasm memory that message buffers and running results live in, plus the
// compiled kernels that reduce in place there.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FmiError } from '../errors.js';
import type {} from './webassembly.js';
import {
  ELEM_BYTES, opCode, supportsCodes, typeCode, typedArrayCtor,
  type ElemType, type NumericArray, type PredefinedOpName,
} from './types.js';

/** A range of Wasm memory: byte offset and length. Plain objects work too (e.g. a pointer from C). */
export interface WasmBlock {
  readonly ptr: number;
  readonly byteLength: number;
}

/** Blocks in one WebAssembly.Memory, and the kernels that reduce in place over them. */
export interface Arena {
  readonly memory: WebAssembly.Memory;
  /** A 16-byte aligned block; reuses freed blocks of the same size class, grows memory when needed. */
  alloc(byteLength: number): WasmBlock;
  /** Returns a block from alloc() for reuse. Throws on a block this arena did not hand out (or a double free). */
  free(b: WasmBlock): void;
  /** A fresh view over the current memory.buffer. Views die when memory grows: recreate, never cache. @default byteLength b.byteLength */
  bytes(b: WasmBlock, byteLength?: number): Uint8Array;
  /** A fresh typed-array view of `length` elements of t at b.ptr (same lifetime caveat as bytes()). */
  view(b: WasmBlock, t: ElemType, length: number): NumericArray;
  /** dst = dst op src over `length` elements, in place. Throws TypeError when MPI does not define op on t. */
  apply(op: PredefinedOpName, t: ElemType, dst: WasmBlock, src: WasmBlock, length: number): void;
}

/**
 * Whether views on `a`'s memory stay valid when it grows: a shared memory
 * never detaches (a grow only makes a new, longer buffer object). A receive
 * may then land in such a view straight from the socket, since the view
 * keeps pointing at the block whatever else the arena allocates meanwhile.
 */
export function viewsOutliveGrowth(a: Arena): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.memory.buffer instanceof SharedArrayBuffer;
}

/** The kernel export: 0 on success, -1 for an op/type it does not define. */
export type KernelFn = (op: number, type: number, dst: number, src: number, n: number) => number;
/** The fold export: dst = (a op b) op c, or a op b for c = 0; dst may be a. Returns as KernelFn. */
export type FoldFn = (op: number, type: number, dst: number, a: number, b: number, c: number, n: number) => number;
/** The fold4 export: dst = ((a op b) op c) op d, d = 0: fold; dst may be a. Returns as KernelFn. */
export type Fold4Fn = (op: number, type: number, dst: number, a: number, b: number, c: number, d: number, n: number) => number;

const PAGE = 65536;
const MAX_PAGES = 65536;
/** 4 MiB to start: enough for small jobs without touching much memory. */
const INITIAL_PAGES = 64;
/** Grow by at least 16 MiB or half the current size, so growth (which detaches every view) stays rare. */
const MIN_GROW_PAGES = 256;
/** Blocks start here in a memory we create: offset 0 stays unused, like C's NULL. */
const OWN_HEAP_START = 64;
const MIN_CLASS = 64;

/**
 * Built twice: importing a shared memory (this process's own arena) and a plain one (another program's memory).
 * Looked for in the package's build/ and, failing that, next to this module: a bundle
 * (`fmi lambda package`) has the files beside it, where `../../build/` leads nowhere.
 */
const WASM_FILES = { shared: 'kernels.wasm', unshared: 'kernels-unshared.wasm' } as const;
const compiled = new Map<string, WebAssembly.Module>();

/** The compiled kernels module (build/kernels.wasm), compiled once, synchronously. */
export function kernelModule(shared = true): WebAssembly.Module {
  const file = shared ? WASM_FILES.shared : WASM_FILES.unshared;
  let m = compiled.get(file);
  if (m === undefined) {
    const urls = [new URL(`../../build/${file}`, import.meta.url), new URL(`./${file}`, import.meta.url)];
    let bytes: Uint8Array | undefined;
    for (const url of urls) {
      try {
        bytes = readFileSync(url);
        break;
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`kernels: cannot read ${fileURLToPath(url)}`, { cause });
      }
    }
    if (bytes === undefined) {
      throw new Error(`kernels: no ${file} in ${urls.map((u) => fileURLToPath(new URL('.', u))).join(' or ')} (run npm run build:wasm)`);
    }
    m = new WebAssembly.Module(bytes);
    compiled.set(file, m);
  }
  return m;
}

/**
 * Size classes: 64 B, then four per power of two (1, 1.25, 1.5, 1.75 x 2^k),
 * so a block wastes under 25% and freed blocks are found again by exact size.
 */
export function sizeClass(n: number): number {
  if (n <= MIN_CLASS) return MIN_CLASS;
  const k = 31 - Math.clz32(n - 1); // 2^k < n <= 2^(k+1)
  const step = 2 ** (k - 2);
  return Math.ceil(n / step) * step;
}

/** Arena over one memory. Not exported from the package: use createArena()/kernels(). */
export class WasmArena implements Arena {
  readonly memory: WebAssembly.Memory;
  /** The raw kernel, for callers that already validated their arguments (reduceInto). */
  readonly kernel: KernelFn;
  #top: number;
  #buf: ArrayBuffer;
  readonly #shared: boolean;
  readonly #free = new Map<number, number[]>();
  readonly #live = new Map<number, number>();

  constructor(memory: WebAssembly.Memory, heapStart: number) {
    if (!Number.isInteger(heapStart) || heapStart < 0) throw new RangeError(`createArena: bad heapStart ${heapStart}`);
    this.memory = memory;
    const instance = new WebAssembly.Instance(kernelModule(memory.buffer instanceof SharedArrayBuffer), { env: { memory } });
    this.kernel = instance.exports.apply as KernelFn;
    this.#top = (heapStart + 15) & ~15;
    this.#buf = memory.buffer;
    this.#shared = this.#buf instanceof SharedArrayBuffer;
  }

  /**
   * memory.buffer, cached: the getter is a slow host call (~10 ns), too much
   * for reduceInto at small sizes. A grow by anyone detaches a non-shared
   * buffer (byteLength 0), which is when it is fetched again; the arena's own
   * grows refresh it. A shared buffer never detaches (after a grow it only
   * stays short, and views made on it stay valid), so it is returned as is:
   * its byteLength is another ~10 ns host call.
   */
  buffer(): ArrayBuffer {
    let b = this.#buf;
    if (!this.#shared && b.byteLength === 0) b = this.#buf = this.memory.buffer;
    return b;
  }

  alloc(byteLength: number): WasmBlock {
    if (byteLength > MAX_PAGES * PAGE) throw tooLarge(byteLength);
    if (!Number.isInteger(byteLength) || byteLength < 0) {
      throw new RangeError(`alloc: bad byteLength ${byteLength}`);
    }
    const cap = sizeClass(byteLength);
    let ptr = this.#free.get(cap)?.pop();
    if (ptr === undefined) {
      ptr = this.#top;
      this.#ensure(ptr + cap);
      this.#top = ptr + cap;
    }
    this.#live.set(ptr, cap);
    return { ptr, byteLength };
  }

  free(b: WasmBlock): void {
    const cap = this.#live.get(b.ptr);
    if (cap === undefined) throw new Error(`free: block at ${b.ptr} is not live in this arena`);
    this.#live.delete(b.ptr);
    const list = this.#free.get(cap);
    if (list === undefined) this.#free.set(cap, [b.ptr]);
    else list.push(b.ptr);
  }

  bytes(b: WasmBlock, byteLength: number = b.byteLength): Uint8Array {
    return new Uint8Array(this.buffer(), b.ptr, byteLength);
  }

  view(b: WasmBlock, t: ElemType, length: number): NumericArray {
    const C = typedArrayCtor(t);
    if (length * C.BYTES_PER_ELEMENT > b.byteLength) {
      throw new RangeError(`view: ${length} x ${t} does not fit a ${b.byteLength}-byte block`);
    }
    return new C(this.buffer(), b.ptr, length);
  }

  apply(op: PredefinedOpName, t: ElemType, dst: WasmBlock, src: WasmBlock, length: number): void {
    const o = opCode(op);
    const c = typeCode(t);
    if (o < 0 || c < 0 || !supportsCodes(o, c)) {
      throw new TypeError(`apply: MPI_${String(op)} is not defined for ${String(t)}`);
    }
    if (!(length >= 0 && length <= 0x7fffffff) || length !== Math.floor(length)) {
      throw new RangeError(`apply: bad length ${length}`);
    }
    const bytes = length * ELEM_BYTES[c]!;
    if (bytes > dst.byteLength || bytes > src.byteLength) {
      throw new RangeError(`apply: ${length} x ${t} exceeds a block (dst ${dst.byteLength} B, src ${src.byteLength} B)`);
    }
    // A pointer past the end traps in Wasm (RuntimeError), nothing to check here.
    if (this.kernel(o, c, dst.ptr, src.ptr, length) !== 0) throw new TypeError(`apply: kernel rejected ${op} on ${t}`);
  }

  #ensure(end: number): void {
    // Fetched afresh: someone else may have grown the memory since.
    const have = (this.#buf = this.memory.buffer).byteLength;
    if (end <= have) return;
    const havePages = have / PAGE;
    const need = Math.ceil((end - have) / PAGE);
    if (havePages + need > MAX_PAGES) throw tooLarge(end - have);
    const step = Math.min(Math.max(need, MIN_GROW_PAGES, havePages >>> 1), MAX_PAGES - havePages);
    try {
      this.memory.grow(step);
    } catch {
      // The large step may exceed the memory's maximum or what the host
      // grants; the exact amount still might not.
      this.memory.grow(need);
    }
    this.#buf = this.memory.buffer;
  }
}

/**
 * An arena over `memory`, or over a new 4 MiB memory that grows on demand.
 *
 * The arena hands out blocks from heapStart up and grows memory past its end
 * when needed. Over another program's memory (an Emscripten module) that
 * program's own allocator does not know about these blocks: either give the
 * arena a region nobody else uses, or only call apply() with pointers the
 * program handed out (any `{ ptr, byteLength }` works as a WasmBlock).
 * The memory must not be shared (the kernels import a non-shared memory).
 *
 * @param heapStart first byte the arena may use. @default 64 for a new memory, the memory's current size for a given one
 */
export function createArena(memory?: WebAssembly.Memory, heapStart?: number): Arena {
  return createWasmArena(memory, heapStart);
}

export function createWasmArena(memory?: WebAssembly.Memory, heapStart?: number): WasmArena {
  // Shared memory: growing it never detaches views that sends and receives
  // in flight hold (a plain memory's grow would, under their feet).
  if (memory === undefined) {
    return new WasmArena(new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true }), heapStart ?? OWN_HEAP_START);
  }
  return new WasmArena(memory, heapStart ?? memory.buffer.byteLength);
}

/** What a reduction too large for Wasm memory (4 GiB in all, working space included) fails with. */
function tooLarge(bytes: number): FmiError {
  return new FmiError('MPI_ERR_COUNT', `${bytes} more bytes do not fit the reduction kernels' Wasm memory (4 GiB in all): reduce in parts`);
}
