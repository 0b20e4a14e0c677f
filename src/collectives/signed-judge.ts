import { Kind } from '../codec.js';
import type { Received } from '../channels/channel.js';
import { mismatch, type CollContext } from './context.js';
import { NUDGE_KIND, nudgeOfCall } from './nudge.js';
import type { SignedCall } from './signed-recv.js';

/** Not this call's message (a nudge or an error left from an earlier call): receive the next one. */
export const AGAIN = Symbol('again');

/**
 * What a signed receive (signedRecv's loop, SignedReceive) makes of the
 * message `r` that came from `peer`: AGAIN, a mismatch (a rejected
 * promise), or `r` itself, its source made local.
 */
export function judge(s: SignedCall, c: CollContext, peer: number, r: Received): Received | Promise<never> | typeof AGAIN {
  const tag = s.tag;
  if (r.kind === NUDGE_KIND) {
    // Only a nudge of this very call (not one left over from an earlier one) tells of a mismatch.
    return r.tag !== tag && nudgeOfCall(r.data, s.seq) ? mismatch(c, peer, r.tag, tag) : AGAIN;
  }
  if (r.tag !== tag && r.kind === Kind.ERROR && s.watch.stale(r.tag, s.seq)) return AGAIN; // a copy of an error this rank failed with
  r.source = s.local(r.source);
  if (r.tag !== tag && r.kind !== Kind.ERROR) return mismatch(c, peer, r.tag, tag);
  return r;
}

/**
 * What a signed receive makes of its receive failing after a message with
 * tag `theirs` and `kind` matched (0: none did): AGAIN (a nudge that did not
 * fit `into`, dropped, its payload unknown), a mismatch, or undefined (the
 * failure stands).
 */
export function judgeFailure(c: CollContext, peer: number, tag: number, theirs: number, kind: number): Promise<never> | typeof AGAIN | undefined {
  if (kind === NUDGE_KIND) return AGAIN;
  if (theirs !== tag && kind !== Kind.ERROR) return mismatch(c, peer, theirs, tag);
  return undefined;
}
