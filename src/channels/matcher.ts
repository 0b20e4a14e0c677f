import { ANY_SOURCE, ANY_TAG, type Probed, type ProbeRequest, type Received, type RecvRequest, type RecvTarget } from './channel.js';
import { TruncateError } from '../errors.js';

/**
 * A message on its way in. The transport writes the payload into `target()`
 * (the matched receive's buffer, or a buffer of its own) and then calls
 * `complete()`.
 */
export interface Arrival {
  readonly length: number;
  /** Where the next bytes go; may change between calls (Wasm memory growth). */
  target(): Uint8Array;
  complete(): void;
  fail(err: Error): void;
}

interface Posted {
  req: RecvRequest;
  seq: number;
  resolve(m: Received): void;
  reject(e: Error): void;
  onAbort?: () => void;
}

interface ProbeWaiter {
  req: ProbeRequest;
  resolve(p: Probed): void;
  reject(e: Error): void;
  onAbort?: () => void;
}

interface Unexpected {
  source: number;
  ctx: number;
  tag: number;
  kind: number;
  seq: number;
  data: Uint8Array;
  done: boolean;
  error?: Error;
  /** A receive that matched before the payload was complete. */
  taker?: Posted;
}

const key = (ctx: number, source: number, tag: number) => `${ctx}:${source}:${tag}`;

function resolveTarget(t: RecvTarget): Uint8Array {
  return typeof t === 'function' ? t() : t;
}

/**
 * MPI matching, shared by every channel: a message matches the earliest posted
 * receive whose (source, tag, context) fits, else it waits, in arrival order,
 * for one. Messages from one source with one tag never overtake each other.
 */
export class Matcher {
  #posted = new Map<string, Posted[]>();
  #wildPosted: Posted[] = [];
  #unexpected = new Map<string, Unexpected[]>();
  #probes: ProbeWaiter[] = [];
  readonly #buffers = new BufferPool();
  #seq = 0;
  #closedWith: Error | undefined;
  readonly #rank: number;
  readonly #channel: string;

  constructor(rank: number, channel: string) {
    this.#rank = rank;
    this.#channel = channel;
  }

  /**
   * Posts a receive; it resolves when a matching message has fully arrived.
   * `unmatched` is asked only when no message is waiting already: an error it
   * returns (say, the source is gone) fails the receive instead of queuing it.
   */
  post(req: RecvRequest, unmatched?: () => Error | undefined): Promise<Received> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    req.signal?.throwIfAborted();
    return new Promise<Received>((resolve, reject) => {
      const p: Posted = { req, seq: this.#seq++, resolve, reject };
      const u = this.#takeUnexpected(req);
      if (u) {
        req.onMatch?.(u.source, u.tag, u.kind);
        this.#deliverUnexpected(u, p);
        return;
      }
      const err = unmatched?.();
      if (err) {
        reject(err);
        return;
      }
      if (req.signal) {
        p.onAbort = () => {
          this.#unpost(p);
          reject(req.signal!.reason);
        };
        req.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      if (req.source === ANY_SOURCE || req.tag === ANY_TAG) this.#wildPosted.push(p);
      else push(this.#posted, key(req.ctx, req.source, req.tag), p);
    });
  }

  /** The envelope of the message a receive like `req` would take now, without taking it (MPI_Iprobe). */
  peek(req: Pick<RecvRequest, 'source' | 'ctx' | 'tag'>): Probed | undefined {
    const u = this.#findUnexpected(req)?.[0];
    return u && { source: u.source, tag: u.tag, kind: u.kind, length: u.data.byteLength };
  }

  /** Waits until a message a receive like `req` would take has arrived, without taking it (MPI_Probe). */
  probe(req: ProbeRequest): Promise<Probed> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const now = this.peek(req);
    if (now) return Promise.resolve(now);
    req.signal?.throwIfAborted();
    return new Promise<Probed>((resolve, reject) => {
      const w: ProbeWaiter = { req, resolve, reject };
      if (req.signal) {
        w.onAbort = () => {
          const i = this.#probes.indexOf(w);
          if (i >= 0) this.#probes.splice(i, 1);
          reject(req.signal!.reason);
        };
        req.signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#probes.push(w);
    });
  }

  /** A message's header arrived: match it now, keeping arrival order. */
  arrive(source: number, ctx: number, tag: number, kind: number, length: number): Arrival {
    const p = this.#takePosted(source, ctx, tag);
    if (p) {
      p.req.onMatch?.(source, tag, kind);
      return this.#arriveForPosted(p, source, ctx, tag, kind, length);
    }
    const u: Unexpected = { source, ctx, tag, kind, seq: this.#seq++, data: this.#buffers.take(length), done: false };
    push(this.#unexpected, key(ctx, source, tag), u);
    if (this.#probes.length > 0) this.#wakeProbes(u);
    return {
      length,
      target: () => u.data,
      complete: () => {
        u.done = true;
        if (u.taker) this.#finishUnexpected(u, u.taker);
      },
      fail: (err) => {
        u.done = true;
        u.error = err;
        if (u.taker) this.#finishUnexpected(u, u.taker);
      },
    };
  }

  /** Convenience for transports that have the whole payload at once. */
  deliver(source: number, ctx: number, tag: number, kind: number, payload: Uint8Array): void {
    const a = this.arrive(source, ctx, tag, kind, payload.byteLength);
    a.target().set(payload);
    a.complete();
  }

  /**
   * Fails receives that name `source` (a lost peer). Receives from any source
   * stay: another rank may still answer them.
   */
  failSource(source: number, err: Error): void {
    for (const [k, list] of this.#posted) {
      if (list[0]?.req.source !== source) continue;
      this.#posted.delete(k);
      for (const p of list) this.#reject(p, err);
    }
    const [lost, keep] = partition(this.#wildPosted, (p) => p.req.source === source);
    this.#wildPosted = keep;
    for (const p of lost) this.#reject(p, err);
    const [lostProbes, keepProbes] = partition(this.#probes, (w) => w.req.source === source);
    this.#probes = keepProbes;
    for (const w of lostProbes) this.#rejectProbe(w, err);
  }

  /**
   * The sources that pending receives and probes name (ANY_SOURCE among them
   * when one takes any): what a channel that cannot see peers die must watch.
   */
  waitingSources(): Set<number> {
    const out = new Set<number>();
    for (const list of this.#posted.values()) if (list[0]) out.add(list[0].req.source);
    for (const p of this.#wildPosted) out.add(p.req.source);
    for (const w of this.#probes) out.add(w.req.source);
    return out;
  }

  /** Fails everything pending and every later receive. */
  close(err: Error): void {
    this.#closedWith = err;
    for (const list of this.#posted.values()) for (const p of list) this.#reject(p, err);
    for (const p of this.#wildPosted) this.#reject(p, err);
    this.#posted.clear();
    this.#wildPosted = [];
    for (const w of this.#probes) this.#rejectProbe(w, err);
    this.#probes = [];
  }

  #wakeProbes(u: Unexpected): void {
    const keep: ProbeWaiter[] = [];
    for (const w of this.#probes) {
      const r = w.req;
      if (r.ctx === u.ctx && (r.source === ANY_SOURCE || r.source === u.source) && (r.tag === ANY_TAG || r.tag === u.tag)) {
        if (w.onAbort) r.signal?.removeEventListener('abort', w.onAbort);
        w.resolve({ source: u.source, tag: u.tag, kind: u.kind, length: u.data.byteLength });
      } else keep.push(w);
    }
    this.#probes = keep;
  }

  #rejectProbe(w: ProbeWaiter, err: Error): void {
    if (w.onAbort) w.req.signal?.removeEventListener('abort', w.onAbort);
    w.reject(err);
  }

  #reject(p: Posted, err: Error): void {
    if (p.onAbort) p.req.signal?.removeEventListener('abort', p.onAbort);
    p.reject(err);
  }

  #arriveForPosted(p: Posted, source: number, ctx: number, tag: number, kind: number, length: number): Arrival {
    const signal = p.req.signal;
    if (p.onAbort) signal?.removeEventListener('abort', p.onAbort);
    const into = p.req.into;
    const capacity = into === undefined ? Infinity : (p.req.capacity ?? resolveTarget(into).byteLength);
    let target: () => Uint8Array;
    let truncated = false;
    if (into === undefined) {
      const own = new Uint8Array(length);
      target = () => own;
    } else if (length > capacity) {
      // The payload is read and dropped; the receive fails with MPI_ERR_TRUNCATE.
      truncated = true;
      const scratch = new Uint8Array(length);
      target = () => scratch;
    } else {
      target = () => resolveTarget(into).subarray(0, length);
    }
    // A receive may still time out while its message streams in (a stalled
    // sender): it fails at once, and the rest of that message is read and dropped.
    let aborted = false;
    let onAbort: (() => void) | undefined;
    if (signal && length > 0) {
      onAbort = () => {
        aborted = true;
        const scratch = new Uint8Array(length);
        target = () => scratch;
        p.reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    const done = () => {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      return aborted;
    };
    return {
      length,
      target: () => target(),
      complete: () => {
        if (done()) return;
        if (truncated) p.reject(this.#truncated(source, tag, length, capacity));
        else p.resolve({ source, ctx, tag, kind, data: target() });
      },
      fail: (err) => {
        if (!done()) p.reject(err);
      },
    };
  }

  #truncated(source: number, tag: number, length: number, capacity: number): TruncateError {
    return new TruncateError(`message of ${length} bytes does not fit the ${capacity}-byte receive buffer`, {
      rank: this.#rank,
      peer: source,
      tag,
      op: 'recv',
      channel: this.#channel,
    });
  }

  #deliverUnexpected(u: Unexpected, p: Posted): void {
    if (u.done) this.#finishUnexpected(u, p);
    else u.taker = p;
  }

  #finishUnexpected(u: Unexpected, p: Posted): void {
    if (u.error) return p.reject(u.error);
    const into = p.req.into;
    if (into === undefined) return p.resolve({ source: u.source, ctx: u.ctx, tag: u.tag, kind: u.kind, data: u.data });
    const dest = resolveTarget(into);
    const capacity = p.req.capacity ?? dest.byteLength;
    if (u.data.byteLength > capacity) return p.reject(this.#truncated(u.source, u.tag, u.data.byteLength, capacity));
    dest.set(u.data);
    p.resolve({ source: u.source, ctx: u.ctx, tag: u.tag, kind: u.kind, data: dest.subarray(0, u.data.byteLength) });
    // Copied out: the buffer can hold the next early message of this size.
    this.#buffers.give(u.data);
  }

  #takePosted(source: number, ctx: number, tag: number): Posted | undefined {
    const k = key(ctx, source, tag);
    const list = this.#posted.get(k);
    const exact = list?.[0];
    let wildIndex = -1;
    for (let i = 0; i < this.#wildPosted.length; i++) {
      const r = this.#wildPosted[i]!.req;
      if (r.ctx === ctx && (r.source === ANY_SOURCE || r.source === source) && (r.tag === ANY_TAG || r.tag === tag)) {
        wildIndex = i;
        break;
      }
    }
    const wild = wildIndex >= 0 ? this.#wildPosted[wildIndex] : undefined;
    if (exact && (!wild || exact.seq < wild.seq)) {
      list!.shift();
      if (list!.length === 0) this.#posted.delete(k);
      return exact;
    }
    if (wild) this.#wildPosted.splice(wildIndex, 1);
    return wild;
  }

  #takeUnexpected(req: RecvRequest): Unexpected | undefined {
    const found = this.#findUnexpected(req);
    if (found) shift(this.#unexpected, found[1]);
    return found?.[0];
  }

  #findUnexpected(req: Pick<RecvRequest, 'source' | 'ctx' | 'tag'>): [Unexpected, string] | undefined {
    if (req.source !== ANY_SOURCE && req.tag !== ANY_TAG) {
      const k = key(req.ctx, req.source, req.tag);
      const u = this.#unexpected.get(k)?.[0];
      return u ? [u, k] : undefined;
    }
    let best: Unexpected | undefined;
    let bestKey = '';
    for (const [k, list] of this.#unexpected) {
      const u = list[0]!;
      if (u.ctx !== req.ctx) continue;
      if (req.source !== ANY_SOURCE && u.source !== req.source) continue;
      if (req.tag !== ANY_TAG && u.tag !== req.tag) continue;
      if (!best || u.seq < best.seq) {
        best = u;
        bestKey = k;
      }
    }
    return best ? [best, bestKey] : undefined;
  }

  #unpost(p: Posted): void {
    const wi = this.#wildPosted.indexOf(p);
    if (wi >= 0) {
      this.#wildPosted.splice(wi, 1);
      return;
    }
    const k = key(p.req.ctx, p.req.source, p.req.tag);
    const list = this.#posted.get(k);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#posted.delete(k);
  }
}

function push<T>(m: Map<string, T[]>, k: string, v: T): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function shift<T>(m: Map<string, T[]>, k: string): T | undefined {
  const list = m.get(k);
  if (!list) return undefined;
  const v = list.shift();
  if (list.length === 0) m.delete(k);
  return v;
}

function partition<T>(xs: T[], pred: (x: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const x of xs) (pred(x) ? yes : no).push(x);
  return [yes, no];
}

/**
 * Buffers for large messages that arrive before their receive: kept for the
 * next early message of the same size once a receive copied one out. These
 * VMs charge for every freshly touched page, and collectives repeat sizes.
 */
class BufferPool {
  static readonly MIN_BYTES = 64 * 1024;
  static readonly MAX_KEPT_BYTES = 64 * 1024 * 1024;
  readonly #free = new Map<number, Uint8Array[]>();
  #kept = 0;

  take(length: number): Uint8Array {
    if (length >= BufferPool.MIN_BYTES) {
      const b = this.#free.get(length)?.pop();
      if (b) {
        this.#kept -= length;
        return b;
      }
    }
    return new Uint8Array(length);
  }

  give(b: Uint8Array): void {
    const n = b.byteLength;
    // Only whole buffers of our own (a view into something else is not ours to reuse).
    if (n < BufferPool.MIN_BYTES || b.byteOffset !== 0 || b.buffer.byteLength !== n) return;
    if (this.#kept + n > BufferPool.MAX_KEPT_BYTES) return;
    const list = this.#free.get(n);
    if (list) list.push(b);
    else this.#free.set(n, [b]);
    this.#kept += n;
  }
}
