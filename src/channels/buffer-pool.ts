/**
 * Buffers for messages that arrive before their receive. Once a receive has
 * copied one out, its buffer holds the next early message of its size class.
 * These VMs charge ~11 us for every freshly touched 4 KiB page, and with the
 * default glibc a freed large buffer goes back to the OS (so a new one faults
 * in again): one allocation per 1 MiB message costs ~3 ms. Collectives and
 * loops repeat sizes, so a few kept buffers cover them.
 *
 * Size classes are powers of two (from 256 bytes), so a message of 600 KiB
 * reuses the buffer of one of 700 KiB; a class holds a few buffers, and all
 * classes together at most MAX_KEPT_BYTES.
 */
export class BufferPool {
  static readonly MIN_CLASS = 256;
  /** Messages larger than this get a buffer of their own, never kept. */
  static readonly MAX_CLASS = 64 * 1024 * 1024;
  static readonly MAX_KEPT_BYTES = 64 * 1024 * 1024;
  static readonly PER_CLASS = 8;
  readonly #free = new Map<number, ArrayBuffer[]>();
  #kept = 0;

  /**
   * A view of exactly `length` bytes on a buffer of its size class; throws
   * RangeError when that much cannot be allocated.
   */
  take(length: number): Uint8Array {
    if (length > BufferPool.MAX_CLASS) return new Uint8Array(length);
    const size = classOf(length);
    let whole = this.#free.get(size)?.pop();
    if (whole) this.#kept -= size;
    else whole = new ArrayBuffer(size);
    return new Uint8Array(whole, 0, length);
  }

  /** Gives back a view take() handed out, once nothing reads it any more. */
  give(view: Uint8Array): void {
    const whole = view.buffer;
    const size = whole.byteLength;
    // Only buffers of our classes (one larger than MAX_CLASS was never ours to keep).
    if (!(whole instanceof ArrayBuffer) || size > BufferPool.MAX_CLASS || size !== classOf(size)) return;
    const list = this.#free.get(size);
    if ((list?.length ?? 0) >= BufferPool.PER_CLASS || this.#kept + size > BufferPool.MAX_KEPT_BYTES) return;
    if (list) list.push(whole);
    else this.#free.set(size, [whole]);
    this.#kept += size;
  }
}

function classOf(length: number): number {
  return length <= BufferPool.MIN_CLASS ? BufferPool.MIN_CLASS : 2 ** (32 - Math.clz32(length - 1));
}
