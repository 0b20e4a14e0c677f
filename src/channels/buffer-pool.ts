import { unfilledBytes } from '../util/fresh.js';

/**
 * Buffers for messages that arrive before their receive. Once a receive has
 * copied one out, its buffer holds the next early message of its size class.
 * These VMs charge ~11 us for every freshly touched 4 KiB page, and with the
 * default glibc a freed large buffer goes back to the OS (so a new one faults
 * in again): one allocation per 1 MiB message costs ~3 ms. Collectives and
 * loops repeat sizes, so a few kept buffers cover them.
 *
 * Size classes are powers of two (from 256 bytes), so a message of 600 KiB
 * reuses the buffer of one of 700 KiB; a class holds PER_CLASS buffers (from
 * LARGE_CLASS on: PER_CLASS_BYTES' worth, if that is more), and all classes
 * together at most MAX_KEPT_BYTES. By bytes too, because in back-to-back 1 MiB bcasts
 * the root runs ahead of a relaying rank by as many calls as the relay's
 * socket buffer holds (autotuned up to 32 MiB on loopback): with 8 kept, a
 * relay took a fresh 1 MiB buffer every call (bench/coll-alloc.mjs).
 * New buffers are not zero-filled: a message's bytes land in one before
 * anything reads it, and only those bytes are ever seen.
 */
export class BufferPool {
  static readonly MIN_CLASS = 256;
  /** Messages larger than this get a buffer of their own, never kept. */
  static readonly MAX_CLASS = 64 * 1024 * 1024;
  static readonly MAX_KEPT_BYTES = 64 * 1024 * 1024;
  static readonly PER_CLASS = 8;
  static readonly LARGE_CLASS = 256 * 1024;
  static readonly PER_CLASS_BYTES = 32 * 1024 * 1024;
  readonly #free = new Map<number, ArrayBuffer[]>();
  #kept = 0;

  /**
   * A view of exactly `length` bytes on a buffer of its size class; throws
   * RangeError when that much cannot be allocated.
   */
  take(length: number): Uint8Array {
    if (length > BufferPool.MAX_CLASS) return unfilledBytes(length);
    const size = classOf(length);
    let whole = this.#free.get(size)?.pop();
    if (whole) this.#kept -= size;
    else whole = unfilledBytes(size).buffer as ArrayBuffer;
    return new Uint8Array(whole, 0, length);
  }

  /** Gives back a view take() handed out, once nothing reads it any more. */
  give(view: Uint8Array): void {
    const whole = view.buffer;
    const size = whole.byteLength;
    // Only buffers of our classes (one larger than MAX_CLASS was never ours to keep).
    if (!(whole instanceof ArrayBuffer) || size > BufferPool.MAX_CLASS || size !== classOf(size)) return;
    const list = this.#free.get(size);
    const cap = size >= BufferPool.LARGE_CLASS ? Math.max(BufferPool.PER_CLASS, Math.floor(BufferPool.PER_CLASS_BYTES / size)) : BufferPool.PER_CLASS;
    if ((list?.length ?? 0) >= cap || this.#kept + size > BufferPool.MAX_KEPT_BYTES) return;
    if (list) list.push(whole);
    else this.#free.set(size, [whole]);
    this.#kept += size;
  }
}

function classOf(length: number): number {
  return length <= BufferPool.MIN_CLASS ? BufferPool.MIN_CLASS : 2 ** (32 - Math.clz32(length - 1));
}
