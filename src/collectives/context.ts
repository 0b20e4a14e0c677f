import { decodeError, encodeError, Kind, type Encoded } from '../codec.js';
import { FmiError, MismatchError, type FmiErrorFields } from '../errors.js';
import { describeSignature, isRooted, otherCall } from './signature.js';
import type { Received, RecvTarget } from '../channels/channel.js';
import type { NodeCall } from './two-level.js';

/**
 * What a collective algorithm sees: its rank among `size`, and sends and
 * receives on the communicator's collective context (never matched by
 * point-to-point traffic). Algorithms never touch a concrete channel.
 */
export interface CollContext {
  readonly rank: number;
  readonly size: number;
  /** The operation's name, for errors. */
  readonly op: string;
  send(peer: number, msg: Encoded): Promise<void>;
  /** `fits`: see RecvRequest.fits. `signal`: to give up this one receive (the call's deadline applies as well). */
  recv(peer: number, into?: RecvTarget, capacity?: number, fits?: (kind: number, length: number) => boolean, signal?: AbortSignal): Promise<Received>;
  /** A receive whose payload is not wanted (a barrier's): resolves with nothing once the message came; fails with the peer's error if it sent one. */
  recvVoid(peer: number): Promise<void>;
  fields(peer?: number): FmiErrorFields;
  /** Thread ranks of the world: the call over their process's node arena (two-level.ts). */
  node?: NodeCall;
  /** On storage channels: this call's one shared value (write once, read by many). */
  store?: {
    put(msg: Encoded, readers: number): Promise<void>;
    /** Reads the value `writer` (a collective rank) puts; fails with FMI_PEER_LOST if it is gone without writing it. */
    get(writer: number): Promise<Encoded>;
  };
}

/** Throws the peer's error if `r` carries one (after the caller forwarded it). */
export function raiseIfError(c: CollContext, r: Received): void {
  if (r.kind === Kind.ERROR) throw peerError(c, r);
}

/** The peer's error that `r` (of kind ERROR) carries. */
export function peerError(c: CollContext, r: Received): FmiError {
  return decodeError(r.data, { rank: c.rank, peer: r.source, op: c.op });
}

export const asEncoded = (r: Received): Encoded => ({ kind: r.kind, bytes: r.data });

/** Relative rank in a tree rooted at `root`, and back. */
export const relRank = (rank: number, root: number, size: number) => (rank - root + size) % size;
export const absRank = (rel: number, root: number, size: number) => (rel + root) % size;

/**
 * Sends `err` to the peers a failed rank still owed a message in this
 * collective, so they fail at once with it instead of waiting for their
 * timeout. Best effort: a peer that is gone is skipped.
 */
export async function sendError(c: CollContext, peers: Iterable<number>, err: unknown): Promise<void> {
  if (spread.has(err as object)) return; // every peer has it already
  const msg = encodeError(err instanceof FmiError ? err : new FmiError('FMI_CHANNEL', String(err), c.fields()));
  await Promise.allSettled([...peers].map((peer) => c.send(peer, msg)));
}

/** Mismatch errors this rank has sent to every peer already. */
const spread = new WeakSet<object>();

/** Errors that say the ranks' contributions differ (count, type), found by this rank: every rank of the call must hear of them. */
const callWide = new WeakSet<object>();

/** Marks `err` (found by this rank) as one every rank of the call must hear of (see tellAll); returns it. */
export function markCallWide<E extends object>(err: E): E {
  callWide.add(err);
  return err;
}

/**
 * On the failure path of a call: a mismatch this rank found (marked by
 * markCallWide, or FMI_MISMATCH not yet spread) goes to every other rank of
 * the call, so that a rank that only sent (a reduce leaf) and already
 * returned fails in its next collective instead of going on as if the call
 * had worked. Other errors, and errors that came from a peer, stay here.
 * Best effort: a peer that is gone is skipped.
 */
export async function tellAll(c: CollContext, err: unknown): Promise<void> {
  if (!callWide.has(err as object) || spread.has(err as object)) return;
  spread.add(err as object);
  const msg = encodeError(err as FmiError);
  const others: number[] = [];
  for (let r = 0; r < c.size; r++) if (r !== c.rank) others.push(r);
  await Promise.allSettled(others.map((r) => c.send(r, msg)));
}

/**
 * A message from `peer` carries another call's signature (`theirs`; this
 * rank's call has `mine`): the ranks called different collectives, or the
 * same one differently. Every other rank of the call gets the error (a peer
 * waiting for this rank fails at once instead of waiting for its timeout; one
 * that is done already gets it in its next collective), then this rank fails.
 */
export async function mismatch(c: CollContext, peer: number, theirs: number, mine: number): Promise<never> {
  const call = otherCall(theirs, mine);
  const err = new MismatchError(
    `rank ${peer} called ${describeSignature(theirs, isRooted(theirs), call)}, rank ${c.rank} called ${describeSignature(mine, isRooted(mine), call)}`,
    c.fields(peer),
  );
  spread.add(err);
  const msg = encodeError(err);
  const others = Array.from({ length: c.size }, (_, r) => r).filter((r) => r !== c.rank);
  await Promise.allSettled(others.map((r) => c.send(r, msg)));
  throw err;
}
