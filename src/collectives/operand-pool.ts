import { unfilledBytes } from '../util/fresh.js';

/**
 * Buffers of exact sizes for values a JS reduction receives and folds into
 * another (ValueEngine's `right` operand): the root of a small allreduce
 * took a new 1 KiB ArrayBuffer per child and call (calloc, then the GC's
 * sweep of it), now it takes one from here and gives it back once folded.
 * A buffer that is never given back (a received value that became the
 * result, a receive that failed) is simply the caller's: only buffers
 * handed out here are ever taken back (`lent`), and one that became a
 * result (keepOperand) no longer is, so a user's array never is.
 * Exact sizes, so a value that does reach the user is an ArrayBuffer of
 * its own length, as a fresh one would be.
 */
const free = new Map<number, ArrayBuffer[]>();
const lent = new WeakSet<ArrayBuffer>();

/** Buffers kept per size, and sizes kept: a job reduces a handful. */
const PER_SIZE = 8;
const SIZES = 16;

/** `n` bytes of memory this module may take back (the caller writes them all before reading any). */
export function takeOperand(n: number): Uint8Array {
  const b = free.get(n)?.pop() ?? (unfilledBytes(n).buffer as ArrayBuffer);
  lent.add(b);
  return new Uint8Array(b, 0, n);
}

/** Gives back the buffer under `view` if takeOperand handed it out; nothing else reads or writes it any more. */
export function giveOperand(view: ArrayBufferView): void {
  const b = view.buffer as ArrayBuffer;
  if (!lent.delete(b)) return;
  let list = free.get(b.byteLength);
  if (list === undefined) {
    if (free.size >= SIZES) free.clear();
    free.set(b.byteLength, (list = []));
  }
  if (list.length < PER_SIZE) list.push(b);
}

/** The buffer under `view` is the caller's for good (a result the user gets): giveOperand leaves it alone. */
export function keepOperand(view: ArrayBufferView): void {
  lent.delete(view.buffer as ArrayBuffer);
}
