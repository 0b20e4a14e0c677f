import { decode, encode, encodeError, type Encoded } from '../codec.js';
import { bcastBinomial } from '../collectives/bcast.js';
import type { CollContext } from '../collectives/context.js';
import { FmiError } from '../errors.js';
import type { OpOptions } from '../util/deadline.js';
import type { ChannelSet } from './channel-set.js';
import type { Communicator } from './communicator.js';
import { agreeContext, makeContext, type Shared } from './context-id.js';
import { checkRank, checkTag } from './validate.js';
import type { CollHost, CollRunner } from './collective-runner.js';

/**
 * Intercommunicators. One is a Communicator over both groups (in an order
 * both agree on: the group whose leader has the lower world rank first), on a
 * context agreed by both, whose point-to-point ranks address the remote group
 * only. Collectives other than barrier (run over both groups) are refused.
 */

/** What this file needs of a communicator's insides (Communicator hands it out). */
export interface CommKit {
  self: Communicator;
  /** World rank of each member, by collective rank: both groups of an intercommunicator. */
  members: number[];
  /** The remote group's world ranks on an intercommunicator. */
  peers: number[] | undefined;
  shared: Shared;
  set: ChannelSet;
  /** Runs `run` as a collective of this communicator, in call order with the others. */
  collective<T>(name: 'intercomm' | 'merge' | 'dup' | 'split', opts: OpOptions, run: (c: CollContext) => Promise<T>): Promise<T>;
  /** A communicator on the same channels and shared context state (the world's members: undefined). */
  make(group: number[] | undefined, ctx: number, peers?: number[]): Communicator;
  /** The communicator's fixed parts and its collective calls (comm-create.ts). */
  host: CollHost;
  coll: CollRunner;
}

/** What the leaders swap over the peer communicator. */
interface LeaderInfo {
  members: number[];
  /** The leader's world rank. */
  leader: number;
  /** A context id this leader made: the one of the leader with the lower world rank is taken. */
  ctx: number;
  /** Why this leader cannot go on (then nothing else counts). */
  error?: string;
}

/** What a leader tells its group. */
interface Agreed {
  remote: number[];
  ctx: number;
  localFirst: boolean;
}

export function createIntercomm(
  local: CommKit,
  localLeader: number,
  peer: CommKit | undefined,
  remoteLeader: number,
  opts: OpOptions & { tag?: number },
): Promise<Communicator> {
  const me = local.self;
  let tag: number;
  try {
    checkRank('MPI_ERR_RANK', 'localLeader', localLeader, me.size, me.rank, 'intercomm');
    tag = checkTag(opts.tag, me.rank, 'intercomm');
  } catch (err) {
    return Promise.reject(err);
  }
  return local.collective('intercomm', opts, async (c) => {
    let msg: Encoded | undefined;
    if (c.rank === localLeader) {
      // A leader's failure reaches its group through the broadcast, so they fail with it.
      msg = await swap(c, local, localLeader, peer, remoteLeader, tag, opts).then(encode, (err: Error) => encodeError(err));
    }
    const out = await bcastBinomial(c, localLeader, msg);
    const { remote, ctx, localFirst } = decode(out.kind, out.bytes) as Agreed;
    return local.make(localFirst ? [...local.members, ...remote] : [...remote, ...local.members], ctx, remote);
  });
}

/** The local leader's part: swap groups and free context ids with the remote leader. */
async function swap(
  c: CollContext,
  local: CommKit,
  localLeader: number,
  peer: CommKit | undefined,
  remoteLeader: number,
  tag: number,
  opts: OpOptions,
): Promise<Agreed> {
  if (!peer) throw new FmiError('MPI_ERR_COMM', 'the local leader needs the peer communicator', c.fields());
  // A leader that cannot go on still answers the remote one, so both sides fail instead of one waiting.
  const problem = peer.set !== local.set ? 'the peer communicator belongs to another job than the local one' : undefined;
  const mine: LeaderInfo = { members: local.members, leader: local.members[localLeader]!, ctx: problem ? -1 : makeContext(local.shared), error: problem };
  const theirs = await peer.self.sendrecv<LeaderInfo>(mine, remoteLeader, remoteLeader, { sendTag: tag, recvTag: tag, signal: opts.signal, timeoutMs: opts.timeoutMs });
  if (problem) throw new FmiError('MPI_ERR_COMM', problem, c.fields());
  if (theirs.error) throw new FmiError('MPI_ERR_COMM', `the remote leader failed: ${theirs.error}`, c.fields());
  const own = new Set(mine.members);
  const both = theirs.members.filter((w) => own.has(w));
  if (both.length > 0) throw new FmiError('MPI_ERR_COMM', `the local and remote groups overlap (world ranks ${both.join(', ')})`, c.fields());
  const localFirst = mine.leader < theirs.leader;
  return { remote: theirs.members, ctx: localFirst ? mine.ctx : theirs.ctx, localFirst };
}

export function mergeIntercomm(inter: CommKit, high: boolean, opts: OpOptions): Promise<Communicator> {
  const peers = inter.peers;
  if (!peers) return Promise.reject(new FmiError('MPI_ERR_COMM', 'merge needs an intercommunicator', { rank: inter.self.rank, op: 'merge' }));
  return inter.collective('merge', opts, async (c) => {
    const { ctx, all } = await agreeContext(c, inter.shared, high ? 1 : 0);
    // The members are one group, then the other.
    const remote = new Set(peers);
    const union = inter.members;
    const firstIsRemote = remote.has(union[0]!);
    const cut = union.findIndex((w) => remote.has(w) !== firstIsRemote);
    if (new Set(all.slice(0, cut)).size > 1 || new Set(all.slice(cut)).size > 1) {
      throw new FmiError('MPI_ERR_ARG', 'the ranks of one group passed different values of `high` to merge', c.fields());
    }
    const [a, b] = [union.slice(0, cut), union.slice(cut)];
    return inter.make(all[0] === 1 && all[cut] === 0 ? [...b, ...a] : [...a, ...b], ctx);
  });
}
