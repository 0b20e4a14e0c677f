import type { Envelope } from '../channel.js';
import { FrameHeader, HEADER_BYTES } from './frame.js';
import type { Bulk } from './bulk.js';
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
 * staging area, in one go while it has room.
 */
export class Outbox {
  readonly #ring: Ring;
  readonly #bulk: Bulk | undefined;
  readonly #hooks: OutboxHooks;
  readonly #header = new FrameHeader();
  readonly #step: number;
  #queue: PendingSend[] = [];
  #running = false;

  constructor(ring: Ring, bulk: Bulk | undefined, hooks: OutboxHooks) {
    this.#ring = ring;
    this.#bulk = bulk;
    this.#hooks = hooks;
    this.#step = Math.max(HEADER_BYTES, ring.capacity >>> 2);
  }

  send(env: Envelope, payload: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    const ring = this.#ring;
    const bulk = this.#bulk !== undefined && payload.byteLength >= BULK_FROM;
    if (this.#queue.length === 0 && !bulk && ring.fits(HEADER_BYTES + payload.byteLength)) {
      ring.write(this.#header.encode(env, payload.byteLength));
      if (payload.byteLength > 0) ring.write(payload);
      ring.publish();
      this.#hooks.ring();
      return RESOLVED;
    }
    const p: PendingSend = { env, payload, off: -1, bulk, resolve: noop, reject: noop, signal, onAbort: undefined };
    // A large message with nothing before it: in whole now, if the staging area has room.
    try {
      if (bulk && this.#queue.length === 0 && this.#fill(p)) return RESOLVED;
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
        this.#settle(p, undefined);
        done++;
      } else if (this.#queue[0] !== p) done++;
      else {
        const [w, bytes] = this.#need(p);
        if (w.wantRoom(bytes) !== undefined) break;
      }
    }
    return done;
  }

  /** Fails every queued send (this side closes). */
  failAll(err: Error): void {
    const q = this.#queue;
    this.#queue = [];
    for (const p of q) this.#settle(p, err);
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
          this.#settle(p, undefined);
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
    if (!p.bulk) return [this.#ring, p.off < 0 ? HEADER_BYTES : 1];
    if (p.off >= 0) return [bulk, bulk.chunkFor(p.payload.byteLength - p.off)];
    return this.#ring.free() < HEADER_BYTES ? [this.#ring, HEADER_BYTES] : [bulk, bulk.roomFor(p.payload.byteLength)];
  }

  /** Writes what fits of `p`; true once all of it is in. */
  #fill(p: PendingSend): boolean {
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
