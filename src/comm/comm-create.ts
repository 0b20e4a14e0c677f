import { FmiError } from '../errors.js';
import { Deadline, type OpOptions } from '../util/deadline.js';
import type { Communicator } from './communicator.js';
import { agreeContext } from './context-id.js';
import { UNDEFINED } from './inter-collectives.js';
import type { CommKit } from './intercomm.js';
import { checkMembers, checkTag } from './validate.js';

/**
 * Making communicators out of an intracommunicator: dup, split and
 * createGroup (intercommunicators: intercomm.ts). Each agrees on a context
 * id made at one member (context-id.ts), then every member makes its own.
 */

/** createGroup traffic takes the user's tag on a context of its own (GROUP_CTX): not queued, so not signed. */
const GROUP_CTX = 3;

/** A new communicator with the same ranks (and remote group); its messages never match this one's. Collective. */
export function dupComm(k: CommKit, opts: OpOptions): Promise<Communicator> {
  return k.collective('dup', opts, async (c) => {
    const { ctx } = await agreeContext(c, k.shared, 0);
    return k.make(k.host.group, ctx, k.peers);
  });
}

/** One communicator per `color`, ranks ordered by `key` then by rank; null for UNDEFINED. Collective. */
export function splitComm(k: CommKit, color: number, key: number, opts: OpOptions): Promise<Communicator | null> {
  return k.collective('split', opts, async (c) => {
    if (color !== UNDEFINED && !(Number.isInteger(color) && color >= 0)) throw new FmiError('MPI_ERR_ARG', `color must be a non-negative integer or UNDEFINED, got ${color}`, c.fields());
    if (!Number.isInteger(key)) throw new FmiError('MPI_ERR_ARG', `key must be an integer, got ${key}`, c.fields());
    const { ctx, all } = await agreeContext(c, k.shared, [color, key] as [number, number]);
    if (color === UNDEFINED) return null;
    const members = all
      .map(([col, key], r) => ({ col, key, r }))
      .filter((m) => m.col === color)
      .sort((a, b) => a.key - b.key || a.r - b.r)
      .map((m) => k.members[m.r]!);
    return k.make(members, ctx);
  });
}

/** A communicator of `ranks` made by those ranks alone (not queued behind this communicator's collectives). */
export async function createGroupComm(k: CommKit, ranks: readonly number[], opts: OpOptions & { tag?: number }): Promise<Communicator> {
  const op = 'createGroup';
  const h = k.host;
  h.checkOpen(op);
  if (k.peers) throw new FmiError('MPI_ERR_COMM', 'createGroup needs an intracommunicator', h.fields(op));
  checkMembers(ranks, h.size, h.rank, op);
  const tag = checkTag(opts.tag, h.rank, op);
  const members = ranks.map((r) => k.members[r]!);
  const d = new Deadline(opts, h.timeoutMs, h.fields(op, undefined, tag));
  try {
    // Not queued behind this communicator's collectives: non-members run those in their own order.
    const { ctx } = await agreeContext(k.coll.context(op, members, tag, h.channel, d, { ctx: h.ctx + GROUP_CTX }), k.shared, 0);
    return k.make(members, ctx);
  } catch (err) {
    throw h.wrap(err, op, undefined, tag);
  } finally {
    d.dispose();
  }
}
