import { decodeError, Kind } from '../codec.js';
import { ANY_SOURCE, ANY_TAG, type Channel, type Probed, type Received, type RecvTarget } from '../channels/channel.js';
import { mismatch, raiseIfError, type CollContext } from './context.js';
import { NUDGE_KIND, NUDGE_MS, nudgeOfCall, nudgePayload } from './nudge.js';
import { otherCall } from './signature.js';
import { SignedReceive } from './signed-receive.js';
import { AGAIN, judge, judgeFailure } from './signed-judge.js';

type Fits = (kind: number, length: number) => boolean;

/** Where a collective call's receives happen: its channel, context, signature (`tag`), number and rank mapping. */
export interface SignedCall {
  channel: Channel;
  ctx: number;
  tag: number;
  seq: number;
  world: (rank: number) => number;
  local: (world: number) => number;
  signal: AbortSignal | undefined;
  watch: CollWatch;
}

/**
 * One per communicator: watches the collective call in progress. While a
 * call has receives waiting, a timer ticks every NUDGE_MS; a call that is
 * still the one waiting at the next tick (so it waited at least NUDGE_MS)
 * nudges the peers its receives wait on (nudge.ts; then at doubling
 * intervals), and the tick looks whether a nudge of this call under another
 * signature, or an error of this call, came from some other rank; then the
 * call's waiting receives are withdrawn (Channel.cancel) and fail. A matched
 * call costs two counter updates per receive: no timer, no promise and no
 * closure per call or per message (one timer per communicator, re-armed
 * every NUDGE_MS while collectives run, stopped when they do not).
 */
export class CollWatch {
  /**
   * Sources (world ranks) of `#call`'s waiting receives, one entry per
   * receive: a few at most, so an array, its first `#count` entries. It never
   * shrinks (an array emptied by length = 0 or pop() gives its memory back,
   * and the next receive allocated it again).
   */
  readonly #waiting: number[] = [];
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  #call: SignedCall | undefined;
  #context: CollContext | undefined;
  /** The call the last tick saw waiting, and the ticks since at which it still was. */
  #seen: SignedCall | undefined;
  #stalled = 0;
  /** The call found failed elsewhere, and its error: its receives fail with it. */
  #failedCall: SignedCall | undefined;
  #failedWith: unknown;

  /** The last call that failed at this rank (for whatever reason). */
  #lastFailed = Number.NEGATIVE_INFINITY;

  /** Call number `seq` failed at this rank. */
  callFailed(seq: number): void {
    if (seq > this.#lastFailed) this.#lastFailed = seq;
  }

  /**
   * Whether an error message of another call (its signature `theirs`), met
   * in call `seq`, is one this rank has no use for: of the call that failed
   * here last, or of the one before it (a rank that failed in its next call
   * for that one's sake), within the two calls after. Ranks that found a
   * mismatch tell every rank (context.ts: mismatch, tellAll), so a rank
   * that failed already gets copies; without this they would fail its next
   * call too and put the ranks out of step. The call number in a signature
   * is mod 4: two calls on, only the failed call's own number is safe to
   * tell from an error of the call after this one.
   */
  stale(theirs: number, seq: number): boolean {
    const since = seq - this.#lastFailed;
    if (since !== 1 && since !== 2) return false;
    const n = (theirs >>> 13) & 3;
    return n === (this.#lastFailed & 3) || (since === 1 && n === ((this.#lastFailed - 1) & 3));
  }

  /** The error the watch found call `s` failed with elsewhere, if any. */
  failure(s: SignedCall): unknown {
    return this.#failedCall === s ? this.#failedWith : undefined;
  }

  enter(s: SignedCall, c: CollContext, source: number): void {
    if (this.#call !== s) {
      // A new call: receives still counted for an earlier one (left behind when it failed) no longer count.
      this.#call = s;
      this.#context = c;
      this.#count = 0;
    }
    this.#waiting[this.#count++] = source;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#tick, NUDGE_MS);
      // Never what keeps a process alive: a waiting receive's channel does that.
      this.#timer.unref();
    }
  }

  leave(s: SignedCall, source: number): void {
    if (this.#call !== s) return;
    const w = this.#waiting;
    let i = this.#count - 1;
    while (i >= 0 && w[i] !== source) i--;
    if (i < 0) return;
    w[i] = w[--this.#count]!;
  }

  /** Call number `seq` is over: nothing of it is watched any more. */
  end(seq: number): void {
    if (this.#call?.seq !== seq) return;
    this.#call = undefined;
    this.#context = undefined;
    this.#count = 0;
  }

  /** The sources waited on, each once. */
  #sources(): Set<number> {
    return new Set(this.#waiting.slice(0, this.#count));
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const s = this.#call;
    if (s === undefined || this.#count === 0) return; // idle: the next receive re-arms
    this.#timer = setTimeout(this.#tick, NUDGE_MS);
    this.#timer.unref();
    if (this.#seen !== s) {
      // First seen waiting now: it may have started just before this tick.
      this.#seen = s;
      this.#stalled = 0;
      return;
    }
    this.#stalled++;
    if (this.#failedCall === s) {
      // Withdrawn receives fail at once; one posted since (a channel that spins first) is withdrawn now.
      this.#cancelWaiting(s);
      return;
    }
    // Nudges after 1, 2, 4, 8... ticks of waiting: a rank that is just slow gets few.
    if ((this.#stalled & (this.#stalled - 1)) === 0) {
      for (const source of this.#sources()) {
        void s.channel.send(source, { ctx: s.ctx, tag: s.tag, kind: NUDGE_KIND }, nudgePayload(s.seq)).catch(() => {});
      }
    }
    const m = s.channel.iprobe({ source: ANY_SOURCE, ctx: s.ctx, tag: ANY_TAG });
    if (m && !this.#sources().has(m.source) && !otherCall(m.tag, s.tag) && (m.kind === Kind.ERROR || (m.kind === NUDGE_KIND && m.tag !== s.tag))) {
      fromElsewhere(s, this.#context!, m).catch((err) => this.#fail(s, err));
    }
  };

  #fail(s: SignedCall, err: unknown): void {
    if (this.#call !== s || this.#failedCall === s) return;
    this.#failedCall = s;
    this.#failedWith = err;
    this.#cancelWaiting(s);
  }

  #cancelWaiting(s: SignedCall): void {
    const err = this.#failedWith instanceof Error ? this.#failedWith : new Error(String(this.#failedWith));
    for (const source of this.#sources()) s.channel.cancel(s.ctx, source, err);
  }
}

/**
 * A collective receive from `peer` that takes any tag and fails every rank
 * with FMI_MISMATCH when the message's signature is not this call's (a
 * message of another collective, or of this one called with another root,
 * op, type or count), or a nudge of this call says so. It also fails when
 * the communicator's watch found the call failed elsewhere (it withdraws the
 * receive). No promise of its own besides its own: no race per receive.
 */
export function signedRecv(
  s: SignedCall,
  c: CollContext,
  peer: number,
  into?: RecvTarget,
  capacity?: number,
  fits?: (kind: number, length: number) => boolean,
  stop?: AbortSignal,
): Promise<Received> {
  const source = s.world(peer);
  const signal = stop && s.signal ? AbortSignal.any([stop, s.signal]) : (stop ?? s.signal);
  const own = ownReceive(s, c, peer, source, into, capacity, fits, signal, false);
  return (own as Promise<Received> | undefined) ?? signedLoop(s, c, peer, source, into, capacity, fits, signal);
}

/** signedRecv without the payload (a barrier's): resolves with nothing, fails with the peer's error if it sent one. */
export function signedRecvVoid(s: SignedCall, c: CollContext, peer: number): Promise<void> {
  const source = s.world(peer);
  const own = ownReceive(s, c, peer, source, undefined, undefined, undefined, s.signal, true);
  return (own as Promise<void> | undefined) ?? signedLoop(s, c, peer, source, undefined, undefined, undefined, s.signal).then((r) => raiseIfError(c, r));
}

/** Where the channel settles receives itself (signed-receive.ts): one promise, checked as the message lands. Else undefined. */
function ownReceive(s: SignedCall, c: CollContext, peer: number, source: number, into: RecvTarget | undefined, capacity: number | undefined, fits: Fits | undefined, signal: AbortSignal | undefined, drop: boolean): Promise<unknown> | undefined {
  if (s.channel.recvTo === undefined) return undefined;
  const failed = s.watch.failure(s);
  if (failed !== undefined) return Promise.reject(failed);
  const r = new SignedReceive(s, c, peer, source, into, capacity, fits, signal, drop);
  return r.start() ? r.promise : undefined;
}

/** signedRecv through the channel's recv: a receive each time round, until this call's message came. */
async function signedLoop(s: SignedCall, c: CollContext, peer: number, source: number, into: RecvTarget | undefined, capacity: number | undefined, fits: Fits | undefined, signal: AbortSignal | undefined): Promise<Received> {
  const { channel, ctx, tag, watch } = s;
  for (;;) {
    const failed = watch.failure(s);
    if (failed !== undefined) throw failed;
    // The tag of the message that matched, known before its payload (which may not fit `into`:
    // without `into` a receive cannot fail for the message's sake).
    let theirs = tag;
    let kind = 0;
    const onMatch = into === undefined ? undefined : (_s: number, t: number, k: number) => void ((theirs = t), (kind = k));
    let r: Received;
    watch.enter(s, c, source);
    try {
      r = await channel.recv({ source, ctx, tag: ANY_TAG, into, capacity, fits, signal, onMatch });
    } catch (err) {
      const v = judgeFailure(c, peer, tag, theirs, kind);
      if (v === AGAIN) continue;
      if (v !== undefined) return v;
      throw err;
    } finally {
      watch.leave(s, source);
    }
    const v = judge(s, c, peer, r);
    if (v !== AGAIN) return v;
  }
}

/** A nudge or an error of this call from a rank no receive was waiting on: fails with it (a stale nudge is dropped). */
async function fromElsewhere(s: SignedCall, c: CollContext, m: Probed): Promise<void> {
  const r = await s.channel.recv({ source: m.source, ctx: s.ctx, tag: m.tag, signal: s.signal });
  const peer = s.local(r.source);
  if (r.kind === Kind.ERROR) throw decodeError(r.data, c.fields(peer));
  if (nudgeOfCall(r.data, s.seq)) await mismatch(c, peer, r.tag, s.tag);
}
