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
}

/**
 * A collective receive from `peer` that takes any tag and fails every rank
 * with FMI_MISMATCH when the message's signature is not this call's (a
 * message of another collective, or of this one called with another root,
 * op, type or count). While it waits it nudges the peer (nudge.ts), and
 * looks whether a nudge of this call under another signature, or an error of
 * this call, came from some other rank: then it stops waiting and fails.
 */
export async function signedRecv(s: SignedCall, c: CollContext, peer: number, into?: RecvTarget, capacity?: number, stop?: AbortSignal): Promise<Received> {
  const { channel, ctx, tag } = s;
  const source = s.world(peer);
  for (;;) {
    // The tag of the message that matched, known before its payload (which may not fit `into`:
    // without `into` a receive cannot fail for the message's sake).
    let theirs = tag;
    let kind = 0;
    const onMatch = into === undefined ? undefined : (_s: number, t: number, k: number) => void ((theirs = t), (kind = k));
    const stall = new AbortController();
    let elsewhere: Probed | undefined;
    let wait = NUDGE_MS;
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      void channel.send(source, { ctx, tag, kind: NUDGE_KIND }, nudgePayload(s.seq)).catch(() => {});
      const m = channel.iprobe({ source: ANY_SOURCE, ctx, tag: ANY_TAG });
      if (m && !otherCall(m.tag, tag) && (m.kind === Kind.ERROR || (m.kind === NUDGE_KIND && m.tag !== tag))) {
        elsewhere = m;
        stall.abort();
        return;
      }
      // Backing off: a rank that is just slow gets few nudges.
      timer = setTimeout(tick, (wait *= 2));
    };
    timer = setTimeout(tick, wait);
    const signal = stop === undefined && s.signal === undefined ? stall.signal : AbortSignal.any([stall.signal, ...[stop, s.signal].filter((x): x is AbortSignal => x !== undefined)]);
    let r: Received;
    try {
      r = await channel.recv({ source, ctx, tag: ANY_TAG, into, capacity, signal, onMatch });
    } catch (err) {
      if (elsewhere) {
        await fromElsewhere(s, c, elsewhere);
        continue;
      }
      if (kind === NUDGE_KIND) continue; // a nudge that did not fit `into`: dropped, its payload unknown
      if (theirs !== tag && kind !== Kind.ERROR) return mismatch(c, peer, theirs, tag);
      throw err;
    } finally {
      clearTimeout(timer);
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

/** A nudge or an error of this call from a rank this receive was not waiting on. */
async function fromElsewhere(s: SignedCall, c: CollContext, m: Probed): Promise<void> {
  const r = await s.channel.recv({ source: m.source, ctx: s.ctx, tag: m.tag, signal: s.signal });
  const peer = s.local(r.source);
  if (r.kind === Kind.ERROR) throw decodeError(r.data, c.fields(peer));
  // A nudge of an earlier call with this call's number mod 4 is dropped.
  if (nudgeOfCall(r.data, s.seq)) await mismatch(c, peer, r.tag, s.tag);
}
