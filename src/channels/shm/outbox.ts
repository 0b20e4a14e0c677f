import type { Envelope } from '../channel.js';
import { FrameHeader, HEADER_BYTES } from './frame.js';
import type { Ring } from './ring.js';

interface PendingSend {
  env: Envelope;
  payload: Uint8Array;
  /** Payload bytes written so far; -1 while the header is not. */
  off: number;
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
  room(ring: Ring, bytes: number): Promise<void>;
  /** A send waits for room: keep the thread alive meanwhile (waitAsync does not). */
  hold(): void;
  unhold(): void;
}

const RESOLVED = Promise.resolve();

/**
 * The sends of one rank to one peer, in order, through their ring. A message
 * that fits goes in at once and the send resolves before returning; a larger
 * one goes in chunks as the reader frees room (a quarter ring at a time, so
 * the two sides copy at the same time).
 */
export class Outbox {
  readonly #ring: Ring;
  readonly #hooks: OutboxHooks;
  readonly #header = new FrameHeader();
  readonly #step: number;
  #queue: PendingSend[] = [];
  #running = false;

  constructor(ring: Ring, hooks: OutboxHooks) {
    this.#ring = ring;
    this.#hooks = hooks;
    this.#step = Math.max(HEADER_BYTES, ring.capacity >>> 2);
  }

  send(env: Envelope, payload: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    const ring = this.#ring;
    if (this.#queue.length === 0 && ring.free() >= HEADER_BYTES + payload.byteLength) {
      ring.write(this.#header.encode(env, payload.byteLength));
      if (payload.byteLength > 0) ring.write(payload);
      ring.publish();
      this.#hooks.ring();
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => {
      const p: PendingSend = { env, payload, off: -1, resolve, reject, signal, onAbort: undefined };
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
      if (this.#fill(p)) {
        this.#queue.shift();
        this.#settle(p, undefined);
        done++;
      } else if (this.#ring.wantRoom(p.off < 0 ? HEADER_BYTES : 1) !== undefined) break;
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
        if (this.#fill(p)) {
          this.#queue.shift();
          this.#settle(p, undefined);
        } else await this.#hooks.room(this.#ring, p.off < 0 ? HEADER_BYTES : 1); // a header goes in whole
      }
    } finally {
      this.#running = false;
      this.#hooks.unhold();
    }
  }

  /** Writes what fits of `p`; true once all of it is in. */
  #fill(p: PendingSend): boolean {
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
