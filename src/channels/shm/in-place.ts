import { copyBytes } from './copy-bytes.js';
import { addressIn, copierFor } from './node-copy.js';
import { BELL, CLOSED, CTRL_WORDS, LENT_ACKS, LENT_OFFER, LENT_OFFER_DST, LENT_OFFER_LEN, LENT_OFFER_SRC, RING_HEADER_BYTES, ringOffset, type ShmRegion } from './region.js';

/** Payloads from this size on that lie in the node memory (sharedArray()) are lent, not staged. */
export const LEND_FROM = 64 * 1024;

/** Copies from this size on into a shared buffer offer their first half to the writer. */
export const OFFER_FROM = 1024 * 1024;
/** The offer's states: up for the writer, the writer copies it, the reader took it back, the writer's copy ended. */
const OFFERED = 1;
const TAKEN = 2;
const KEPT = 3;
const DONE = 4;
/** How long the reader waits at once for the writer's half (it looks at the writer's CLOSED flag between). */
const HALF_WAIT_MS = 1;

/**
 * How lent payloads were taken in this thread: straight into their receive's buffer, or into a pooled buffer first
 * (no receive when the reader went idle); of the offered halves, how many the writer copied (`halves`, counted by the writer) and how many the reader kept (`kept`).
 */
export const lentCounts = { direct: 0, pooled: 0, halves: 0, kept: 0 };

/**
 * Large payloads read where the writer has them: a payload that lies in the
 * node memory (an array from sharedArray(), collectives/node-memory.ts) is
 * lent to the reader. Only its address goes through the pair's ring, in a
 * header (frame.ts), and the reader copies it straight into the receive's
 * buffer when the receive matches it: one copy from sender to receiver, where
 * the staging area (bulk.ts) takes two. The send completes when the reader
 * acknowledges its copy: it sets the message's bit in the ring header's
 * LENT_ACKS word and rings the writer's bell. A message that arrives before
 * its receive waits for it (MPI lets a send wait for its match), but only
 * while the reader's thread has work: when it goes idle (Inbox, ShmChannel),
 * the payload goes to a pooled buffer and the send completes, so a program
 * that counts on sends completing before their receives still runs.
 *
 * Up to 32 lent messages per pair await their acknowledgement at once (a bit
 * each); a send beyond them is staged.
 *
 * A copy of OFFER_FROM bytes or more into a shared buffer is split: the
 * reader offers its first half to the writer (which waits for the
 * acknowledgement, asleep in its channel's wait) and rings it, copies the
 * second half, then takes the first back unless the writer woke and took it
 * meanwhile (then it waits for the writer's copy to end). Both cores copy at
 * once, as through the staging area, but each byte once; a writer that wakes
 * late or not at all costs nothing (bench/shm-copy-lines.mjs, plan `offer`).
 */
export class InPlace {
  readonly #memory: WebAssembly.Memory;
  readonly #copy: (dst: number, src: number, n: number) => void;
  #view: Uint8Array;
  readonly #ctrl: Int32Array;
  readonly #ctl: Int32Array;
  readonly #writerBell: number;
  readonly #writerClosed: number;
  /** The writer's ids awaiting their acknowledgement, a bit each. */
  #inUse = 0;

  constructor(region: ShmRegion, from: number, to: number, memory: WebAssembly.Memory) {
    this.#memory = memory;
    this.#copy = copierFor(memory);
    this.#view = new Uint8Array(memory.buffer);
    this.#ctrl = new Int32Array(region.sab, ringOffset(region, from, to), RING_HEADER_BYTES / 4);
    this.#ctl = new Int32Array(region.sab, 0, region.ranks.length * CTRL_WORDS);
    this.#writerBell = from * CTRL_WORDS + BELL;
    this.#writerClosed = from * CTRL_WORDS + CLOSED;
  }

  // --- the writer's side

  /** Where `payload` lies in the node memory when it is to be lent, else -1. */
  addressOf(payload: Uint8Array): number {
    return payload.byteLength >= LEND_FROM ? addressIn(this.#memory, payload) : -1;
  }

  /** An id for a lent message, or -1 while 32 await their acknowledgement. */
  lend(): number {
    const bit = ~this.#inUse & (this.#inUse + 1);
    if (bit === 0) return -1;
    this.#inUse |= bit;
    return 31 - Math.clz32(bit);
  }

  /** Whether lent messages await their acknowledgement. */
  get lending(): boolean {
    return this.#inUse !== 0;
  }

  /** Copies the half of a lent payload the reader offers, if it does (the writer's side; its channel calls it as its bell rings). */
  help(): void {
    const ctrl = this.#ctrl;
    if (Atomics.load(ctrl, LENT_OFFER) !== OFFERED || Atomics.compareExchange(ctrl, LENT_OFFER, OFFERED, TAKEN) !== OFFERED) return;
    this.#copy(Atomics.load(ctrl, LENT_OFFER_DST) >>> 0, Atomics.load(ctrl, LENT_OFFER_SRC) >>> 0, Atomics.load(ctrl, LENT_OFFER_LEN) >>> 0);
    lentCounts.halves++;
    Atomics.store(ctrl, LENT_OFFER, DONE);
    Atomics.notify(ctrl, LENT_OFFER);
  }

  /** The ids acknowledged since the last call, a bit each (free again). */
  acked(): number {
    const a = Atomics.load(this.#ctrl, LENT_ACKS) & this.#inUse;
    if (a === 0) return 0;
    Atomics.and(this.#ctrl, LENT_ACKS, ~a);
    this.#inUse &= ~a;
    return a;
  }

  // --- the reader's side

  /** Copies the `n` bytes lent at `addr` into `dst` (drops them when undefined), then acknowledges `id`. */
  take(addr: number, n: number, dst: Uint8Array | undefined, id: number): void {
    if (dst !== undefined && n > 0) {
      const to = addressIn(this.#memory, dst);
      if (to >= 0 && n >= OFFER_FROM) this.#split(to, addr, n);
      else if (to >= 0) this.#copy(to, addr, n);
      else {
        if (this.#view.byteLength < addr + n) this.#view = new Uint8Array(this.#memory.buffer);
        copyBytes(dst, 0, this.#view.subarray(addr, addr + n));
      }
    }
    Atomics.or(this.#ctrl, LENT_ACKS, 1 << id);
    this.#ring();
  }

  /** `n` bytes from `src` to `dst` in the node memory, the first half offered to the writer. */
  #split(dst: number, src: number, n: number): void {
    const ctrl = this.#ctrl;
    // Whole cache lines each.
    const half = (n >>> 1) & ~63;
    Atomics.store(ctrl, LENT_OFFER_SRC, src | 0);
    Atomics.store(ctrl, LENT_OFFER_DST, dst | 0);
    Atomics.store(ctrl, LENT_OFFER_LEN, half);
    Atomics.store(ctrl, LENT_OFFER, OFFERED);
    this.#ring();
    this.#copy(dst + half, src + half, n - half);
    if (Atomics.compareExchange(ctrl, LENT_OFFER, OFFERED, KEPT) === OFFERED) {
      this.#copy(dst, src, half);
      lentCounts.kept++;
    } else {
      // The writer copies it now (its copy never waits), unless its thread ended mid-copy: then again here (its array is still there).
      while (Atomics.load(ctrl, LENT_OFFER) === TAKEN) {
        if (Atomics.load(this.#ctl, this.#writerClosed) !== 0) {
          this.#copy(dst, src, half);
          break;
        }
        Atomics.wait(ctrl, LENT_OFFER, TAKEN, HALF_WAIT_MS);
      }
    }
    Atomics.store(ctrl, LENT_OFFER, 0);
  }

  #ring(): void {
    Atomics.add(this.#ctl, this.#writerBell, 1);
    Atomics.notify(this.#ctl, this.#writerBell);
  }
}
