import { encode } from '../codec.js';
import { FmiError, MismatchError, type FmiErrorFields } from '../errors.js';
import type { Channel } from '../channels/channel.js';
import { allgatherRing } from './allgather.js';
import type { CollContext } from './context.js';
import type { NodeArena, NodeLayout } from './node-arena.js';
import { describeSignature, isRooted, otherCall } from './signature.js';

/**
 * What a world collective of a thread rank needs for the two-level
 * algorithms: its process's node arena, the call's signature (what the
 * local ranks compare), its deadline, and the call's context over other
 * members (the processes' leaders). See nodeCall.
 */
export interface NodeCall {
  readonly arena: NodeArena;
  readonly tag: number;
  readonly signal: AbortSignal | undefined;
  /** Rank in the world (the communicator's rank: the arena serves the world only). */
  readonly rank: number;
  fields(peer?: number): FmiErrorFields;
  /** This call's context over `members` (world ranks, ascending): the leaders' step. */
  sub(members: number[]): CollContext;
}

/** FMI_NODE_COLL=0: the world's collectives keep the message algorithms even between thread ranks. */
const ENABLED = process.env.FMI_NODE_COLL !== '0';

/**
 * The node arena's part in a collective of the communicator of `members`
 * (undefined: every rank of the world) and context `ctx` over `channel`, or
 * undefined where the two-level shape does not apply: a sub-communicator
 * (split, dup: its calls may run beside the world's, and the arena
 * serialises one communicator's calls), another channel (Redis, S3), no
 * arena (not a thread rank).
 */
export function nodeCall(
  arena: NodeArena | undefined, channel: Channel, members: number[] | undefined, ctx: number, tag: number,
  signal: AbortSignal | undefined, fields: (peer?: number) => FmiErrorFields, sub: (members: number[]) => CollContext,
): NodeCall | undefined {
  if (!ENABLED || arena === undefined || members !== undefined || ctx !== 0 || channel !== arena.carrier || !arena.usable) return undefined;
  return { arena, tag, signal, rank: channel.rank, fields, sub };
}

/** Whether the job is all in this process (one level), else the processes' layout, found out by the first call that needs it. */
export async function layoutOf(c: CollContext, nc: NodeCall): Promise<NodeLayout | undefined> {
  const a = nc.arena;
  if (a.n === a.size) return undefined;
  if (a.layout) return a.layout;
  // Once per job: every rank says who leads its process (an allgather of 4 bytes over the channel).
  const items = await allgatherRing(c, encode(new Int32Array([a.ranks[0]!])));
  if (items.length !== c.size) throw new FmiError('FMI_CHANNEL', 'a rank could not say which process it is in', nc.fields());
  const leaderOf = items.map((it) => new Int32Array(it.bytes.slice().buffer)[0]!);
  const leaders = [...new Set(leaderOf)].sort((x, y) => x - y);
  const index = new Map(leaders.map((l, i) => [l, i]));
  const processOf = Int32Array.from(leaderOf, (l) => index.get(l)!);
  const contiguous = leaderOf.every((l, r) => r === 0 || l === leaderOf[r - 1] || l === r);
  a.layout = { leaders, processOf, contiguous };
  return a.layout;
}

/**
 * After the first sync of a call: every local rank's header must carry this
 * call's signature (and, with `bytes`, its byte count), else every local
 * rank fails alike.
 */
export function checkHeaders(nc: NodeCall, set: number, bytes?: number): void {
  const a = nc.arena;
  for (let s = 0; s < a.n; s++) {
    if (s === a.slot) continue;
    const h = a.header(set, s);
    const theirs = h[0]! >>> 0;
    if (theirs !== nc.tag) {
      const call = otherCall(theirs, nc.tag);
      throw new MismatchError(
        `rank ${a.ranks[s]} called ${describeSignature(theirs, isRooted(theirs), call)}, rank ${nc.rank} called ${describeSignature(nc.tag, isRooted(nc.tag), call)}`,
        nc.fields(a.ranks[s]),
      );
    }
    if (bytes !== undefined && h[1] !== bytes) {
      throw new FmiError('MPI_ERR_SIZE', `rank ${a.ranks[s]} contributed ${h[1]} bytes, rank ${nc.rank} ${bytes}`, nc.fields(a.ranks[s]));
    }
  }
}
