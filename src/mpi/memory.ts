import type {} from './webassembly.js';

/** What the runtime may use of a compiled program (bindings/library_fmi.js, FMI.host). */
export interface ProgramHost {
  /** HEAPU8: a view of the whole memory; a new one after memory grows. */
  heap(): Uint8Array;
  /** The program's WebAssembly.Memory (not shared), for kernels that run in place on it. */
  memory?(): WebAssembly.Memory;
  malloc(bytes: number): number;
  free(ptr: number): void;
  /** Calls the function at table index `fp` (all arguments i32). */
  call(fp: number, ...args: number[]): number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Reads and writes the program's linear memory. Views die when memory grows,
 * so every access starts from the host's current HEAPU8; nothing here holds
 * a view across a call into the program or across an await.
 */
export class Memory {
  readonly #host: ProgramHost;
  #dv: DataView | undefined;

  constructor(host: ProgramHost) {
    this.#host = host;
  }

  get host(): ProgramHost {
    return this.#host;
  }

  u8(): Uint8Array {
    return this.#host.heap();
  }

  #view(): DataView {
    const buf = this.#host.heap().buffer;
    if (this.#dv === undefined || this.#dv.buffer !== buf) this.#dv = new DataView(buf);
    return this.#dv;
  }

  i32(ptr: number): number {
    return this.#view().getInt32(ptr >>> 0, true);
  }

  setI32(ptr: number, v: number): void {
    this.#view().setInt32(ptr >>> 0, v | 0, true);
  }

  setI64(ptr: number, v: number): void {
    this.#view().setBigInt64(ptr >>> 0, BigInt(v), true);
  }

  /** n ints starting at ptr. */
  i32s(ptr: number, n: number): number[] {
    const dv = this.#view();
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = dv.getInt32((ptr >>> 0) + 4 * i, true);
    return out;
  }

  setI32s(ptr: number, values: readonly number[]): void {
    const dv = this.#view();
    for (let i = 0; i < values.length; i++) dv.setInt32((ptr >>> 0) + 4 * i, values[i]! | 0, true);
  }

  /** A view of `len` bytes at ptr: valid until the program runs again. */
  view(ptr: number, len: number): Uint8Array {
    const p = ptr >>> 0;
    return this.#host.heap().subarray(p, p + len);
  }

  /** A copy of `len` bytes at ptr. */
  copy(ptr: number, len: number): Uint8Array {
    const p = ptr >>> 0;
    return this.#host.heap().slice(p, p + len);
  }

  write(ptr: number, bytes: Uint8Array): void {
    this.#host.heap().set(bytes, ptr >>> 0);
  }

  /** The NUL-terminated UTF-8 string at ptr. */
  cstring(ptr: number): string {
    const heap = this.#host.heap();
    const p = ptr >>> 0;
    const end = heap.indexOf(0, p);
    return decoder.decode(heap.subarray(p, end < 0 ? heap.length : end));
  }

  /** Writes `s` NUL-terminated into at most `max` bytes (NUL included); returns the bytes before the NUL. */
  writeCString(ptr: number, s: string, max: number): number {
    if (max <= 0) return 0;
    let bytes = encoder.encode(s);
    if (bytes.length > max - 1) {
      // Cut at a character boundary.
      let n = max - 1;
      while (n > 0 && (bytes[n]! & 0xc0) === 0x80) n--;
      bytes = bytes.subarray(0, n);
    }
    const heap = this.#host.heap();
    heap.set(bytes, ptr >>> 0);
    heap[(ptr >>> 0) + bytes.length] = 0;
    return bytes.length;
  }
}
