import type { OwnReceive, RecvRequest, RecvTarget } from './channel.js';
import { ChannelError, TruncateError } from '../errors.js';
import { BufferPool } from './buffer-pool.js';
import { unfilledBytes } from '../util/fresh.js';

/**
 * A message on its way in. The transport writes the payload into `sink()`
 * (the matched receive's buffer, or a buffer of its own) or straight into
 * `stable`, and then calls `complete()`.
 */
export interface Arrival {
  readonly length: number;
  /**
   * Where the payload goes, all `length` bytes of it (each chunk at the offset
   * it has reached). Ask again for every chunk: it may change between calls
   * (Wasm memory growth, a receive cancelled meanwhile). For a payload that is
   * to be dropped, a scratch buffer.
   */
  target(): Uint8Array;
  /** Like target(), but undefined for a payload that is to be dropped (nothing is allocated for it). */
  sink(): Uint8Array | undefined;
  /**
   * Memory the transport may let the kernel write the payload straight into
   * until this arrival completes or fails: it stays where it is, and nothing
   * else reads or writes it meanwhile. Undefined when the payload must go
   * through sink(): a receive into Wasm memory (it moves when it grows), or a
   * cancellable receive into the caller's buffer (a receive that timed out
   * gives its buffer back at once, and a read already under way would still
   * land in it).
   */
  readonly stable: Uint8Array | undefined;
  complete(): void;
  fail(err: Error): void;
}

/** A posted receive: a promise's (Matcher.post) or one that settles itself (Matcher.postOwn). */
export type Posted = OwnReceive;

/** The receive's `into`, unless its `fits` turns this message away. */
function takesInto(req: RecvRequest, kind: number, length: number): RecvTarget | undefined {
  return req.into !== undefined && (req.fits === undefined || req.fits(kind, length)) ? req.into : undefined;
}

export function resolveTarget(t: RecvTarget): Uint8Array {
  return typeof t === 'function' ? t() : t;
}

/** What arrivals share with their matcher. */
export class MatchCore {
  readonly pool = new BufferPool();
  readonly #rank: number;
  readonly #channel: string;

  constructor(rank: number, channel: string) {
    this.#rank = rank;
    this.#channel = channel;
  }

  truncated(source: number, tag: number, length: number, capacity: number): TruncateError {
    return new TruncateError(`message of ${length} bytes does not fit the ${capacity}-byte receive buffer`, this.#fields(source, tag));
  }

  noMemory(source: number, tag: number, length: number, cause: unknown): ChannelError {
    const why = cause instanceof Error ? cause.message : String(cause);
    return new ChannelError(`no memory for a message of ${length} bytes (${why}); receive it \`into\` a buffer of yours`, { ...this.#fields(source, tag), cause });
  }

  /** An early message and the receive that took it: both there, hand it over. */
  finish(u: Early, p: Posted): void {
    if (u.error) return p.reject(u.error);
    const into = takesInto(p.req, u.kind, u.data.byteLength);
    if (into === undefined) {
      let data = u.data;
      // A pooled buffer larger than the message stays in the pool; the receive gets bytes of its own.
      if (data.buffer.byteLength !== data.byteLength) {
        data = unfilledBytes(data.byteLength);
        data.set(u.data);
        this.pool.give(u.data);
      }
      return p.resolve({ source: u.source, ctx: u.ctx, tag: u.tag, kind: u.kind, data });
    }
    const dest = resolveTarget(into);
    const capacity = p.req.capacity ?? dest.byteLength;
    const n = u.data.byteLength;
    if (n > capacity) {
      this.pool.give(u.data);
      return p.reject(this.truncated(u.source, u.tag, n, capacity));
    }
    dest.set(u.data);
    // Copied out: the buffer can hold the next early message of its size.
    this.pool.give(u.data);
    p.resolve({ source: u.source, ctx: u.ctx, tag: u.tag, kind: u.kind, data: dest.subarray(0, n) });
  }

  #fields(source: number, tag: number) {
    return { rank: this.#rank, peer: source, tag, op: 'recv', channel: this.#channel };
  }
}

/** A message that arrived before its receive: its payload goes to a pooled buffer. */
export class Early implements Arrival {
  readonly stable: Uint8Array;
  done = false;
  error: Error | undefined = undefined;
  /** A receive that matched before the payload was complete. */
  taker: Posted | undefined = undefined;
  /**
   * Set by a transport that leaves the payload where it is (shared memory)
   * until a receive takes it: called once one does (taker set), so the
   * payload goes straight to the receive, one copy instead of two.
   */
  onTaken: (() => void) | undefined = undefined;

  constructor(
    readonly core: MatchCore,
    readonly source: number,
    readonly ctx: number,
    readonly tag: number,
    readonly kind: number,
    readonly seq: number,
    readonly data: Uint8Array,
  ) {
    this.stable = data;
  }

  get length(): number {
    return this.data.byteLength;
  }

  target(): Uint8Array {
    return this.data;
  }

  sink(): Uint8Array {
    return this.data;
  }

  complete(): void {
    this.done = true;
    if (this.taker) this.core.finish(this, this.taker);
  }

  fail(err: Error): void {
    this.done = true;
    this.error = err;
    if (this.taker) this.core.finish(this, this.taker);
  }
}

/** A message that matched a posted receive: its payload goes to the receive's buffer. */
export class ToPosted implements Arrival {
  readonly stable: Uint8Array | undefined = undefined;
  /** The receive's bytes, when they do not move: a view of `into`, or an array of its own. */
  #dest: Uint8Array | undefined = undefined;
  /** A receive into memory that may move (Wasm): asked again per chunk. */
  #fn: (() => Uint8Array) | undefined = undefined;
  #drop = false;
  #scratch: Uint8Array | undefined = undefined;
  /** Capacity of a receive too small for the message (it fails once the payload was read and dropped). */
  #truncatedTo = -1;
  /** The receive has failed already (cancelled, no memory): the rest is dropped. */
  #settled = false;
  #onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly core: MatchCore,
    readonly p: Posted,
    readonly source: number,
    readonly ctx: number,
    readonly tag: number,
    readonly kind: number,
    readonly length: number,
  ) {
    const req = p.req;
    const signal = req.signal;
    if (p.onAbort) signal?.removeEventListener('abort', p.onAbort);
    const into = takesInto(req, kind, length);
    if (into === undefined) {
      try {
        // Every byte arrives before the receive completes; a failed one drops it.
        this.#dest = unfilledBytes(length);
      } catch (cause) {
        // Fail now: nothing else would (the receive is off the posted list and its abort listener gone).
        this.#settled = true;
        this.#drop = true;
        p.reject(core.noMemory(source, tag, length, cause));
        return;
      }
      // Ours: harmless if a read lands after a cancel.
      this.stable = this.#dest;
    } else {
      const capacity = req.capacity ?? resolveTarget(into).byteLength;
      if (length > capacity) {
        this.#truncatedTo = capacity;
        this.#drop = true;
      } else if (typeof into === 'function') {
        this.#fn = into;
      } else {
        this.#dest = into.subarray(0, length);
        if (!signal && isFixed(into)) this.stable = this.#dest;
      }
    }
    // A receive may still time out while its message streams in (a stalled
    // sender): it fails at once, and the rest of that message is dropped.
    if (signal && length > 0) this.#watchAbort(p, signal);
  }

  /** Apart from the constructor, which allocated this closure's scope for every message, signal or not. */
  #watchAbort(p: Posted, signal: AbortSignal): void {
    this.#onAbort = () => {
      this.#onAbort = undefined;
      this.#drop = true;
      if (this.#settled) return;
      this.#settled = true;
      p.reject(signal.reason);
    };
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  sink(): Uint8Array | undefined {
    if (this.#drop) return undefined;
    return this.#dest ?? this.#fn!().subarray(0, this.length);
  }

  target(): Uint8Array {
    return this.sink() ?? (this.#scratch ??= new Uint8Array(this.length));
  }

  complete(): void {
    if (!this.#end()) return;
    const p = this.p;
    if (this.#truncatedTo >= 0) return p.reject(this.core.truncated(this.source, this.tag, this.length, this.#truncatedTo));
    const data = this.#dest ?? this.#fn!().subarray(0, this.length);
    p.resolve({ source: this.source, ctx: this.ctx, tag: this.tag, kind: this.kind, data });
  }

  fail(err: Error): void {
    if (this.#end()) this.p.reject(err);
  }

  /** True when the receive is still to be settled. */
  #end(): boolean {
    if (this.#onAbort) this.p.req.signal!.removeEventListener('abort', this.#onAbort);
    this.#onAbort = undefined;
    if (this.#settled) return false;
    this.#settled = true;
    return true;
  }
}

/** What receives that take a shared empty array get (RecvRequest.sharedEmpty). */
const SHARED_EMPTY = new Uint8Array(0);

/**
 * A message without payload for the posted receive `p`: complete now, as a
 * ToPosted of length 0 would (no object for the arrival, no abort listener
 * while nothing is left to come).
 */
export function completeEmpty(p: Posted, source: number, ctx: number, tag: number, kind: number): void {
  const req = p.req;
  if (p.onAbort) req.signal?.removeEventListener('abort', p.onAbort);
  const into = takesInto(req, kind, 0);
  const data = into !== undefined ? resolveTarget(into).subarray(0, 0) : req.sharedEmpty === true ? SHARED_EMPTY : new Uint8Array(0);
  p.resolve({ source, ctx, tag, kind, data });
}

/** Memory that neither moves nor shrinks while a receive is pending (a resizable ArrayBuffer may). */
function isFixed(a: Uint8Array): boolean {
  const b = a.buffer as ArrayBuffer & { resizable?: boolean };
  return b.resizable !== true;
}
