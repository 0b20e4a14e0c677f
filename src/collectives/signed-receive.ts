import { Kind } from '../codec.js';
import { ANY_TAG, type OwnReceive, type Received, type RecvRequest, type RecvTarget } from '../channels/channel.js';
import { peerError, type CollContext } from './context.js';
import { AGAIN, judge, judgeFailure } from './signed-judge.js';
import type { SignedCall } from './signed-recv.js';

type Settle = (v: unknown) => void;
type Fail = (e: unknown) => void;

/** The resolve functions of the promise being made (one function for every receive, not a closure each). */
let settleOf: Settle;
let failOf: Fail;
const capture = (s: Settle, f: Fail): void => {
  settleOf = s;
  failOf = f;
};

/**
 * signedRecv on a channel that settles receives itself (Channel.recvTo): one
 * object is the request, the matcher's posted receive and the check. What
 * arrives is checked as it lands, in the transport's read callback (a nudge
 * or a stale error posts the receive again there and then), and the one
 * promise the caller awaits settles with the outcome: no async frame, request,
 * posted entry, closure or promise per receive besides. The same outcomes as
 * signedRecv's loop (signed-recv.ts).
 */
export class SignedReceive implements OwnReceive, RecvRequest {
  readonly req: RecvRequest = this;
  seq = 0;
  onAbort: (() => void) | undefined = undefined;
  readonly tag = ANY_TAG;
  readonly sharedEmpty: boolean;
  readonly ctx: number;
  /** The message (undefined when `drop`: the caller wants none). */
  readonly promise: Promise<unknown>;
  /** The tag and kind of the message that matched, known before its payload (with `into` only: see signedRecv). */
  #theirs: number;
  #kind = 0;
  readonly #settle: Settle;
  readonly #fail: Fail;

  constructor(
    readonly s: SignedCall,
    readonly c: CollContext,
    readonly peer: number,
    readonly source: number,
    readonly into: RecvTarget | undefined,
    readonly capacity: number | undefined,
    readonly fits: ((kind: number, length: number) => boolean) | undefined,
    readonly signal: AbortSignal | undefined,
    /** Settle with nothing, or with the peer's error when it sent one (a barrier's receive: signed-recv.ts, signedRecvVoid). */
    readonly drop: boolean,
  ) {
    this.ctx = s.ctx;
    this.sharedEmpty = drop;
    this.#theirs = s.tag;
    this.promise = new Promise(capture);
    this.#settle = settleOf;
    this.#fail = failOf;
  }

  /** Posts the receive; false (nothing posted) when the channel cannot settle it itself. */
  start(): boolean {
    const { s, source } = this;
    s.watch.enter(s, this.c, source);
    if (s.channel.recvTo!(this)) return true;
    s.watch.leave(s, source);
    return false;
  }

  onMatch(_source: number, tag: number, kind: number): void {
    if (this.into === undefined) return;
    this.#theirs = tag;
    this.#kind = kind;
  }

  resolve(r: Received): void {
    const { s, c } = this;
    s.watch.leave(s, this.source);
    const v = judge(s, c, this.peer, r);
    if (v === AGAIN) return this.#again();
    if (v instanceof Promise || !this.drop) this.#settle(v); // a mismatch, or the message
    else if (v.kind === Kind.ERROR) this.#fail(peerError(c, v));
    else this.#settle(undefined);
  }

  reject(err: Error): void {
    const { s } = this;
    s.watch.leave(s, this.source);
    const v = judgeFailure(this.c, this.peer, s.tag, this.#theirs, this.#kind);
    if (v === AGAIN) return this.#again();
    if (v !== undefined) return this.#settle(v);
    this.#fail(err);
  }

  /** What came was not this call's message: wait for the next one (from the matcher's callback, at once). */
  #again(): void {
    const s = this.s;
    this.#theirs = s.tag;
    this.#kind = 0;
    const failed = s.watch.failure(s);
    if (failed !== undefined) return this.#fail(failed);
    if (!this.start()) s.channel.recv(this).then((r) => this.resolve(r), (e: Error) => this.reject(e));
  }
}
