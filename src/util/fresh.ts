import { constants } from 'node:buffer';

const { MAX_LENGTH } = constants;

// New memory for a result that is written in full before anyone reads it:
// a receive's own buffer, a collective's new result array.

/**
 * From this size on the memory is not zero-filled first. A new ArrayBuffer
 * is calloc'd: glibc zero-fills memory it recycles, and the socket or the
 * reduction then writes every byte again. Buffer.allocUnsafeSlow takes it from
 * malloc as is: 1 MiB allocated, filled and dropped in a loop cost 505-670 µs
 * of CPU and 34-44 page faults against 830-1200 µs and 57-82 faults zero-filled
 * (one process at high priority on the loaded 2-vCPU VM). Below it the
 * zero-fill costs next to nothing.
 */
export const UNFILLED_MIN_BYTES = 64 * 1024;

/**
 * `n` bytes of new memory, not zero-filled from UNFILLED_MIN_BYTES on: the
 * caller must write all of them before the array leaves its hands (on a
 * failure, drop it). A plain Uint8Array over an ArrayBuffer of exactly `n`
 * bytes, as `new Uint8Array(n)` gives; throws RangeError as that does.
 */
export function unfilledBytes(n: number): Uint8Array {
  // Past Buffer's limit (4 GiB on Node 20) a plain array still works (lazily zeroed), and callers then give their own error (MPI_ERR_COUNT).
  if (n < UNFILLED_MIN_BYTES || n > MAX_LENGTH) return new Uint8Array(n);
  return new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n);
}

/** A TypedArray of `length` elements over unfilledBytes(): the same contract. */
export function unfilled<T>(ctor: { new (buffer: ArrayBuffer, byteOffset: number, length: number): T; new (length: number): T; readonly BYTES_PER_ELEMENT: number }, length: number): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  if (bytes < UNFILLED_MIN_BYTES || bytes > MAX_LENGTH) return new ctor(length);
  return new ctor(unfilledBytes(bytes).buffer as ArrayBuffer, 0, length);
}
