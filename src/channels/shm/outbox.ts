import type { Envelope } from '../channel.js';
import { FrameHeader, HEADER_BYTES } from './frame.js';
import type { Bulk } from './bulk.js';
import type { InPlace } from './in-place.js';
import type { Ring } from './ring.js';

/** Payloads from this size on go through the staging area (one hand-off), smaller ones through the ring. */
export const BULK_FROM = 32 * 1024;

/** What a send waits on for room: the ring or the staging area. */
export interface RoomWaiter {
  room(bytes: number): Promise<void>;
  wantRoom(bytes: number): number | undefined;
}

interface PendingSend {
  env: Envelope;
  payload: Uint8Array;
  /** Payload bytes written so far; -1 while the header is not. */
  off: number;
  /** Its payload goes through the staging area. */
  bulk: boolean;
  /** Where its payload lies in the node memory, to be lent (in-place.ts); else -1. */
  addr: number;
  /** A lent message's id once its header is written; else -1. */
  id: number;
  resolve(): void;
  reject(e: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export interface OutboxHooks {
  /** Tell the reader there is more (its doorbell). */
  ring(): void;
  /** The reader is gone, or this side closed: the error to fail with, else undefined. */
  stopped(): Error | undefined;
  /** Resolves when there may be room for `bytes` in `ring` (the channel's blocking wait, or the ring's own waitAsync). */
  room(ring: RoomWaiter, bytes: number): Promise<void>;
  /** A send waits for room: keep the thread alive meanwhile (waitAsync does not). */
  hold(): void;
  unhold(): void;
}

const RESOLVED = Promise.resolve();
const noop = (): void => {};

/**
 * The sends of one rank to one peer, in order, through their ring. A message
 * that fits goes in at once and the send resolves before returning; a larger
 * one goes in chunks as the reader frees room (a quarter ring at a time, so
 * the two sides copy at the same time). From BULK_FROM bytes on, only a
 * descriptor goes through the ring and the payload through the pair's
 * staging area, in one go while it has room. A large payload in the node
 * memory is lent instead (in-place.ts): its header goes through the ring,
 * and the send completes when the reader has copied it out (reap()).
 */
export class Outbox {
  readonly #ring: Ring;
  readonly #bulk: Bulk | undefined;
  readonly #lend: InPlace | undefined;
  /** Lent messages awaiting their acknowledgement, by id. */
  readonly #lent = new Map<number, PendingSend>();
  readonly #hooks: OutboxHooks;
  readonly #header = new FrameHeader();
  readonly #step: number;
  #queue: PendingSend[] = [];
  #running = false;

  constructor(ring: Ring, bulk: Bulk | undefined, lend: InPlace | undefined, hooks: OutboxHooks) {
    this.#ring = ring;
    this.#bulk = bulk;
    this.#lend = lend;
    this.#hooks = hooks;
    this.#step = Math.max(HEADER_BYTES, ring.capacity >>> 2);
  }

  send(env: Envelope, payload: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    const ring = this.#ring;
    const addr = this.#lend?.addressOf(payload) ?? -1;
    const bulk = addr < 0 && this.#bulk !== undefined && payload.byteLength >= BULK_FROM;
    if (this.#queue.length === 0 && !bulk && addr < 0 && ring.fits(HEADER_BYTES + payload.byteLength)) {
      ring.write(this.#header.encode(env, payload.byteLength));
      if (payload.byteLength > 0) ring.write(payload);
      ring.publish();
      this.#hooks.ring();
      return RESOLVED;
    }
    const p: PendingSend = { env, payload, off: -1, bulk, addr, id: -1, resolve: noop, reject: noop, signal, onAbort: undefined };
    // A large message with nothing before it: in whole now, if the staging area has room; a lent one's header.
    try {
      if ((bulk || addr >= 0) && this.#queue.length === 0 && this.#fill(p)) return p.id < 0 ? RESOLVED : new Promise<void>((resolve, reject) => this.#lendOut(p, resolve, reject));
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise<void>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
      if (signal) {
        p.onAbort = () => this.#abort(p);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.#queue.push(p);
      if (!this.#running) void this.#run();
    });
  }

  /** Whether sends wait for room. */
  get waiting(): boolean {
    return this.#queue.length > 0;
  }

  /** Whether lent messages await their acknowledgement. */
  get lending(): boolean {
    return this.#lent.size > 0;
  }

  /** Copies the half of a lent payload the reader offers, if it does; completes the lent sends the reader has acknowledged; how many. */
  reap(): number {
    this.#lend?.help();
    let bits = this.#lend?.acked() ?? 0;
    let done = 0;
    while (bits !== 0) {
      const id = 31 - Math.clz32(bits);
      bits &= ~(1 << id);
      const p = this.#lent.get(id);
      if (p === undefined) continue;
      this.#lent.delete(id);
      this.#hooks.unhold();
      this.#settle(p, undefined);
      done++;
    }
    return done;
  }

  /**
   * Writes what fits now, without waiting (the channel's blocking wait calls
   * it each time its bell rings); the number of sends it completed. Where a
   * send still waits for room, the reader is asked to ring this rank's bell.
   */
  kick(): number {
    let done = 0;
    while (this.#queue.length > 0 && this.#hooks.stopped() === undefined) {
      const p = this.#queue[0]!;
      if (this.#tryFill(p)) {
        this.#queue.shift();
        this.#filled(p);
        done++;
      } else if (this.#queue[0] !== p) done++;
      else {
        const [w, bytes] = this.#need(p);
        if (w.wantRoom(bytes) !== undefined) break;
      }
    }
    return done;
  }

  /** Fails every queued send and every lent one not acknowledged (this side closes, or the reader is gone). */
  failAll(err: Error): void {
    const q = this.#queue;
    this.#queue = [];
    for (const p of q) this.#settle(p, err);
    for (const p of this.#lent.values()) {
      this.#hooks.unhold();
      this.#settle(p, err);
    }
    this.#lent.clear();
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#hooks.hold();
    try {
      while (this.#queue.length > 0) {
        const err = this.#hooks.stopped();
        if (err) {
          this.failAll(err);
          break;
        }
        const p = this.#queue[0]!;
        if (this.#tryFill(p)) {
          this.#queue.shift();
          this.#filled(p);
        } else if (this.#queue[0] === p) await this.#hooks.room(...this.#need(p));
      }
    } finally {
      this.#running = false;
      this.#hooks.unhold();
    }
  }

  /** #fill; a send that cannot be written (no memory for the staging area) fails and leaves the queue, and the next ones go on. */
  #tryFill(p: PendingSend): boolean {
    try {
      return this.#fill(p);
    } catch (err) {
      this.#queue.shift();
      this.#settle(p, err as Error);
      return false;
    }
  }

  /** What `p` waits on, for how many bytes: a header goes in whole, a large payload too where it can. */
  #need(p: PendingSend): [RoomWaiter, number] {
    const bulk = this.#bulk!;
    if (p.addr >= 0) return [this.#ring, HEADER_BYTES];
    if (!p.bulk) return [this.#ring, p.off < 0 ? HEADER_BYTES : 1];
    if (p.off >= 0) return [bulk, bulk.chunkFor(p.payload.byteLength - p.off)];
    return this.#ring.free() < HEADER_BYTES ? [this.#ring, HEADER_BYTES] : [bulk, bulk.roomFor(p.payload.byteLength)];
  }

  /** Writes what fits of `p`; true once all of it is in. */
  #fill(p: PendingSend): boolean {
    if (p.addr >= 0 && !this.#fillLent(p)) return false;
    if (p.id >= 0) return true;
    if (p.bulk) return this.#fillBulk(p);
    const ring = this.#ring;
    let wrote = false;
    if (p.off < 0) {
      if (ring.free() < HEADER_BYTES) return false;
      ring.write(this.#header.encode(p.env, p.payload.byteLength));
      p.off = 0;
      wrote = true;
    }
    const total = p.payload.byteLength;
    for (;;) {
      const n = Math.min(ring.free(), total - p.off, this.#step);
      if (n <= 0) break;
      ring.write(p.payload.subarray(p.off, p.off + n));
      p.off += n;
      ring.publish();
      this.#hooks.ring();
      wrote = false;
    }
    if (wrote) {
      ring.publish();
      this.#hooks.ring();
    }
    return p.off === total;
  }

  /** The descriptor through the ring (once), then what fits of the payload through the staging area; true once all of it is in. */
  #fillBulk(p: PendingSend): boolean {
    const bulk = this.#bulk!;
    const len = p.payload.byteLength;
    const fresh = p.off < 0;
    if (fresh) {
      const ring = this.#ring;
      if (ring.free() < HEADER_BYTES) return false;
      const at = bulk.place(len);
      if (at === undefined) return false;
      ring.write(this.#header.encode(p.env, len, at));
      ring.publish();
      p.off = 0;
      // The reader wakes now and copies out behind this side's copy in.
      this.#hooks.ring();
    }
    const n = bulk.write(p.payload, p.off);
    p.off += n;
    // Going on after a pause: the reader stopped following when it found the copy paused, and looks again.
    if (n > 0 && !fresh) this.#hooks.ring();
    return p.off === len;
  }

  /**
   * A lent message's header into the ring; true once written (p.id set),
   * and true too when no id was free: then the payload is staged after all
   * (p.addr -1).
   */
  #fillLent(p: PendingSend): boolean {
    const ring = this.#ring;
    if (ring.free() < HEADER_BYTES) return false;
    const id = this.#lend!.lend();
    if (id < 0) {
      p.addr = -1;
      p.bulk = this.#bulk !== undefined && p.payload.byteLength >= BULK_FROM;
      return true;
    }
    ring.write(this.#header.encodeLent(p.env, p.payload.byteLength, { addr: p.addr, id }));
    ring.publish();
    p.id = id;
    this.#hooks.ring();
    return true;
  }

  /** A send whose message is all in: it completes now, or a lent one when the reader acknowledges it. */
  #filled(p: PendingSend): void {
    if (p.id < 0) return this.#settle(p, undefined);
    // Past cancelling: the reader has the header (MPI_Cancel of a matched send has no effect either).
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    p.onAbort = undefined;
    this.#lendOut(p, p.resolve, p.reject);
  }

  /** `p`'s header is out: it settles on the reader's acknowledgement (reap()), or fails with this side or the reader gone. */
  #lendOut(p: PendingSend, resolve: () => void, reject: (e: Error) => void): void {
    p.resolve = resolve;
    p.reject = reject;
    this.#lent.set(p.id, p);
    this.#hooks.hold();
  }

  #abort(p: PendingSend): void {
    const i = this.#queue.indexOf(p);
    if (i < 0) return;
    const reason = p.signal!.reason as Error;
    if (p.off < 0) {
      this.#queue.splice(i, 1);
      this.#settle(p, reason);
      return;
    }
    // Half written: the reader expects the rest. It goes from a copy (the caller may reuse its buffer once we fail).
    p.payload = p.payload.slice();
    const settle = p.reject;
    p.resolve = p.reject = () => {};
    p.signal?.removeEventListener('abort', p.onAbort!);
    settle(reason);
  }

  #settle(p: PendingSend, err: Error | undefined): void {
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    if (err) p.reject(err);
    else p.resolve();
  }
}
