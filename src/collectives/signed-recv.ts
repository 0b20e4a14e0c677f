import { decodeError, Kind } from '../codec.js';
import { ANY_SOURCE, ANY_TAG, type Channel, type Probed, type Received, type RecvTarget } from '../channels/channel.js';
import { mismatch, type CollContext } from './context.js';
import { NUDGE_KIND, NUDGE_MS, nudgeOfCall, nudgePayload } from './nudge.js';
import { otherCall } from './signature.js';

/** Where a collective call's receives happen: its channel, context, signature (`tag`), number and rank mapping. */
export interface SignedCall {
  channel: Channel;
  ctx: number;
  tag: number;
  seq: number;
  world: (rank: number) => number;
  local: (world: number) => number;
  signal: AbortSignal | undefined;
  watch: CallWatch;
}

/**
 * One per collective call: while the call has receives waiting, a timer
 * (NUDGE_MS, then doubling) nudges the peers they wait on (nudge.ts) and
 * looks whether a nudge of this call under another signature, or an error of
 * this call, came from some other rank; then the waiting receives fail. One
 * timer per call, not per receive: a matched call pays one setTimeout.
 */
export class CallWatch {
  readonly #waiting = new Map<number, number>();
  #timer: NodeJS.Timeout | undefined;
  #wait = NUDGE_MS;
  #over = false;
  #reject!: (err: unknown) => void;
  /** Rejects when the watch found this call failed elsewhere. */
  readonly failed = new Promise<never>((_, reject) => (this.#reject = reject));
  call: SignedCall | undefined;
  context: CollContext | undefined;

  constructor() {
    this.failed.catch(() => {});
  }

  enter(source: number): void {
    this.#waiting.set(source, (this.#waiting.get(source) ?? 0) + 1);
    if (this.#timer === undefined && !this.#over) this.#timer = setTimeout(this.#tick, this.#wait);
  }

  leave(source: number): void {
    const n = this.#waiting.get(source)! - 1;
    if (n === 0) this.#waiting.delete(source);
    else this.#waiting.set(source, n);
  }

  end(): void {
    this.#over = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const s = this.call;
    if (this.#over || !s || this.#waiting.size === 0) return;
    for (const source of this.#waiting.keys()) {
      void s.channel.send(source, { ctx: s.ctx, tag: s.tag, kind: NUDGE_KIND }, nudgePayload(s.seq)).catch(() => {});
    }
    const m = s.channel.iprobe({ source: ANY_SOURCE, ctx: s.ctx, tag: ANY_TAG });
    if (m && !this.#waiting.has(m.source) && !otherCall(m.tag, s.tag) && (m.kind === Kind.ERROR || (m.kind === NUDGE_KIND && m.tag !== s.tag))) {
      fromElsewhere(s, this.context!, m).then(() => this.#again(), (err) => {
        this.#over = true;
        this.#reject(err);
      });
      return;
    }
    this.#again();
  };

  #again(): void {
    // Backing off: a rank that is just slow gets few nudges.
    if (!this.#over && this.#timer === undefined) this.#timer = setTimeout(this.#tick, (this.#wait *= 2));
  }
}

/**
 * A collective receive from `peer` that takes any tag and fails every rank
 * with FMI_MISMATCH when the message's signature is not this call's (a
 * message of another collective, or of this one called with another root,
 * op, type or count), or a nudge of this call says so. It also fails when
 * the call's watch found the call failed elsewhere (its receive then stays
 * posted: the communicator is out of step by then anyway).
 */
export async function signedRecv(
  s: SignedCall,
  c: CollContext,
  peer: number,
  into?: RecvTarget,
  capacity?: number,
  fits?: (kind: number, length: number) => boolean,
  stop?: AbortSignal,
): Promise<Received> {
  const { channel, ctx, tag } = s;
  const source = s.world(peer);
  const signal = stop && s.signal ? AbortSignal.any([stop, s.signal]) : (stop ?? s.signal);
  for (;;) {
    // The tag of the message that matched, known before its payload (which may not fit `into`:
    // without `into` a receive cannot fail for the message's sake).
    let theirs = tag;
    let kind = 0;
    const onMatch = into === undefined ? undefined : (_s: number, t: number, k: number) => void ((theirs = t), (kind = k));
    let r: Received;
    s.watch.enter(source);
    try {
      r = await Promise.race([channel.recv({ source, ctx, tag: ANY_TAG, into, capacity, fits, signal, onMatch }), s.watch.failed]);
    } catch (err) {
      if (kind === NUDGE_KIND) continue; // a nudge that did not fit `into`: dropped, its payload unknown
      if (theirs !== tag && kind !== Kind.ERROR) return mismatch(c, peer, theirs, tag);
      throw err;
    } finally {
      s.watch.leave(source);
    }
    if (r.kind === NUDGE_KIND) {
      // Only a nudge of this very call (not one left over from an earlier one) tells of a mismatch.
      if (r.tag !== tag && nudgeOfCall(r.data, s.seq)) return mismatch(c, peer, r.tag, tag);
      continue;
    }
    r.source = s.local(r.source);
    if (r.tag !== tag && r.kind !== Kind.ERROR) return mismatch(c, peer, r.tag, tag);
    return r;
  }
}

/** A nudge or an error of this call from a rank no receive was waiting on: fails with it (a stale nudge is dropped). */
async function fromElsewhere(s: SignedCall, c: CollContext, m: Probed): Promise<void> {
  const r = await s.channel.recv({ source: m.source, ctx: s.ctx, tag: m.tag, signal: s.signal });
  const peer = s.local(r.source);
  if (r.kind === Kind.ERROR) throw decodeError(r.data, c.fields(peer));
  if (nudgeOfCall(r.data, s.seq)) await mismatch(c, peer, r.tag, s.tag);
}
