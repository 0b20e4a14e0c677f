import { ANY_SOURCE, ANY_TAG, type OwnReceive, type Probed, type ProbeRequest, type Received, type RecvRequest } from './channel.js';
import { completeEmpty, Early, MatchCore, ToPosted, type Arrival, type Posted } from './arrivals.js';
import { MatchQueues } from './match-queues.js';
import { PostedList } from './posted-list.js';

export type { Arrival } from './arrivals.js';

interface ProbeWaiter {
  req: ProbeRequest;
  resolve(p: Probed): void;
  reject(e: Error): void;
  onAbort?: () => void;
}

/**
 * MPI matching, shared by every channel: a message matches the earliest posted
 * receive whose (source, tag, context) fits, else it waits, in arrival order,
 * for one. Messages from one source with one tag never overtake each other.
 */
export class Matcher {
  readonly #posted = new MatchQueues<Posted>();
  readonly #wildPosted = new PostedList<Posted>();
  readonly #unexpected = new MatchQueues<Early>();
  #probes: ProbeWaiter[] = [];
  readonly #core: MatchCore;
  #seq = 0;
  #closedWith: Error | undefined;

  constructor(rank: number, channel: string) {
    this.#core = new MatchCore(rank, channel);
  }

  /**
   * Posts a receive; it resolves when a matching message has fully arrived.
   * `unmatched` is asked only when no message is waiting already, with the
   * receive's source: an error it returns (say, the source is gone) fails the
   * receive instead of queuing it. (A channel passes one function made once,
   * not a closure per receive.)
   */
  post(req: RecvRequest, unmatched?: (source: number) => Error | undefined): Promise<Received> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    req.signal?.throwIfAborted();
    return new Promise<Received>((resolve, reject) => this.postOwn({ req, seq: 0, resolve, reject, onAbort: undefined }, unmatched));
  }

  /**
   * Posts a receive that settles itself (no promise here): its resolve or
   * reject is called once, synchronously when a message is waiting already
   * or the receive cannot be posted, else from arrive's completion.
   */
  postOwn(p: OwnReceive, unmatched?: (source: number) => Error | undefined): void {
    const req = p.req;
    if (this.#closedWith) return p.reject(this.#closedWith);
    if (req.signal?.aborted) return p.reject(req.signal.reason);
    p.seq = this.#seq++;
    const u = this.#takeUnexpected(req);
    if (u) {
      req.onMatch?.(u.source, u.tag, u.kind);
      if (u.done) this.#core.finish(u, p);
      else {
        u.taker = p;
        u.onTaken?.();
      }
      return;
    }
    const err = unmatched?.(req.source);
    if (err) return p.reject(err);
    if (req.signal) {
      p.onAbort = () => {
        this.#unpost(p);
        p.reject(req.signal!.reason);
      };
      req.signal.addEventListener('abort', p.onAbort, { once: true });
    }
    if (req.source === ANY_SOURCE || req.tag === ANY_TAG) this.#wildPosted.push(p);
    else this.#posted.push(req.ctx, req.source, req.tag, p);
  }

  /** The envelope of the message a receive like `req` would take now, without taking it (MPI_Iprobe). */
  peek(req: Pick<RecvRequest, 'source' | 'ctx' | 'tag'>): Probed | undefined {
    const u = this.#findUnexpected(req);
    return u && { source: u.source, tag: u.tag, kind: u.kind, length: u.length };
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

  /**
   * A message's header arrived: match it now, keeping arrival order. Throws
   * (a RangeError) only when an early message cannot be allocated: the
   * transport cannot keep it, and must drop the connection.
   */
  arrive(source: number, ctx: number, tag: number, kind: number, length: number): Arrival {
    const p = this.#takePosted(source, ctx, tag);
    if (p) {
      p.req.onMatch?.(source, tag, kind);
      return new ToPosted(this.#core, p, source, ctx, tag, kind, length);
    }
    return this.#early(source, ctx, tag, kind, length);
  }

  /** A message without payload arrived whole: arrive and complete, with no arrival object when a receive takes it. */
  arriveEmpty(source: number, ctx: number, tag: number, kind: number): void {
    const p = this.#takePosted(source, ctx, tag);
    if (p === undefined) return this.#early(source, ctx, tag, kind, 0).complete();
    p.req.onMatch?.(source, tag, kind);
    completeEmpty(p, source, ctx, tag, kind);
  }

  #early(source: number, ctx: number, tag: number, kind: number, length: number): Early {
    let data: Uint8Array;
    try {
      data = this.#core.pool.take(length);
    } catch (cause) {
      throw new RangeError(`no memory for a message of ${length} bytes from rank ${source} that no receive is waiting for`, { cause });
    }
    const u = new Early(this.#core, source, ctx, tag, kind, this.#seq++, data);
    this.#unexpected.push(ctx, source, tag, u);
    if (this.#probes.length > 0) this.#wakeProbes(u);
    return u;
  }

  /** Convenience for transports that have the whole payload at once. */
  deliver(source: number, ctx: number, tag: number, kind: number, payload: Uint8Array): void {
    const a = this.arrive(source, ctx, tag, kind, payload.byteLength);
    a.sink()?.set(payload);
    a.complete();
  }

  /**
   * Fails receives that name `source` (a lost peer). Receives from any source
   * stay: another rank may still answer them.
   */
  failSource(source: number, err: Error): void {
    this.#posted.sweep((list) => {
      if (list[0]!.req.source !== source) return false;
      for (const p of list) this.#reject(p, err);
      return true;
    });
    for (const p of this.#wildPosted.take((p) => p.req.source === source)) this.#reject(p, err);
    const [lostProbes, keepProbes] = partition(this.#probes, (w) => w.req.source === source);
    this.#probes = keepProbes;
    for (const w of lostProbes) this.#rejectProbe(w, err);
  }

  /**
   * Fails the receives on `ctx` that name `source` and no message has matched
   * yet (a collective call found failed elsewhere: its receives would wait for
   * ever). Receives already taking a message complete as usual.
   */
  cancel(ctx: number, source: number, err: Error): void {
    const hit = (p: Posted) => p.req.ctx === ctx && p.req.source === source;
    for (const p of this.#wildPosted.take(hit)) this.#reject(p, err);
    this.#posted.sweep((list) => {
      if (!hit(list[0]!)) return false;
      for (const p of list) this.#reject(p, err);
      return true;
    });
  }

  /** Fails receives and probes from any source (one of the ranks they could come from can no longer send). */
  failWild(err: Error): void {
    for (const p of this.#wildPosted.take((p) => p.req.source === ANY_SOURCE)) this.#reject(p, err);
    const [lostProbes, keepProbes] = partition(this.#probes, (w) => w.req.source === ANY_SOURCE);
    this.#probes = keepProbes;
    for (const w of lostProbes) this.#rejectProbe(w, err);
  }

  /**
   * The sources that pending receives and probes name (ANY_SOURCE among them
   * when one takes any): what a channel that cannot see peers die must watch.
   */
  waitingSources(): Set<number> {
    const out = new Set<number>();
    this.#posted.sweep((list) => (out.add(list[0]!.req.source), false));
    const wilds = this.#wildPosted;
    for (let i = 0; i < wilds.length; i++) out.add(wilds.at(i).req.source);
    for (const w of this.#probes) out.add(w.req.source);
    return out;
  }

  /** Fails everything pending and every later receive. */
  close(err: Error): void {
    this.#closedWith = err;
    this.#posted.sweep((list) => {
      for (const p of list) this.#reject(p, err);
      return true;
    });
    for (const p of this.#wildPosted.take(() => true)) this.#reject(p, err);
    for (const w of this.#probes) this.#rejectProbe(w, err);
    this.#probes = [];
  }

  #wakeProbes(u: Early): void {
    const keep: ProbeWaiter[] = [];
    for (const w of this.#probes) {
      const r = w.req;
      if (r.ctx === u.ctx && (r.source === ANY_SOURCE || r.source === u.source) && (r.tag === ANY_TAG || r.tag === u.tag)) {
        if (w.onAbort) r.signal?.removeEventListener('abort', w.onAbort);
        w.resolve({ source: u.source, tag: u.tag, kind: u.kind, length: u.length });
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

  #takePosted(source: number, ctx: number, tag: number): Posted | undefined {
    const exact = this.#posted.first(ctx, source, tag);
    const wilds = this.#wildPosted;
    let wildIndex = -1;
    for (let i = 0; i < wilds.length; i++) {
      const r = wilds.at(i).req;
      if (r.ctx === ctx && (r.source === ANY_SOURCE || r.source === source) && (r.tag === ANY_TAG || r.tag === tag)) {
        wildIndex = i;
        break;
      }
    }
    const wild = wildIndex >= 0 ? wilds.at(wildIndex) : undefined;
    if (exact && (!wild || exact.seq < wild.seq)) {
      this.#posted.remove(ctx, source, tag, exact);
      return exact;
    }
    if (wild) wilds.removeAt(wildIndex);
    return wild;
  }

  #takeUnexpected(req: RecvRequest): Early | undefined {
    const u = this.#findUnexpected(req);
    if (u) this.#unexpected.remove(u.ctx, u.source, u.tag, u);
    return u;
  }

  #findUnexpected(req: Pick<RecvRequest, 'source' | 'ctx' | 'tag'>): Early | undefined {
    if (req.source !== ANY_SOURCE && req.tag !== ANY_TAG) return this.#unexpected.first(req.ctx, req.source, req.tag);
    const lists = this.#unexpected.lists(req.ctx);
    if (!lists) return undefined;
    let best: Early | undefined;
    for (const list of lists) {
      const u = list[0]!;
      if (req.source !== ANY_SOURCE && u.source !== req.source) continue;
      if (req.tag !== ANY_TAG && u.tag !== req.tag) continue;
      if (!best || u.seq < best.seq) best = u;
    }
    return best;
  }

  #unpost(p: Posted): void {
    const wi = this.#wildPosted.indexOf(p);
    if (wi >= 0) this.#wildPosted.removeAt(wi);
    else this.#posted.remove(p.req.ctx, p.req.source, p.req.tag, p);
  }
}

function partition<T>(xs: T[], pred: (x: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const x of xs) (pred(x) ? yes : no).push(x);
  return [yes, no];
}
