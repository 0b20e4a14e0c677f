import { FmiError } from '../errors.js';
import type { OpOptions } from '../util/deadline.js';
import type { Communicator } from './communicator.js';
import { interRun, UNDEFINED } from './inter-collectives.js';

/**
 * split on an intercommunicator (MPI 3.1 §6.4.2): each group splits by
 * color, ordered by key then rank; the ranks of one color in both groups
 * make an intercommunicator. A color only one group has gives null there, as
 * does UNDEFINED. MPI_Comm_create on one is this split with the group's
 * members as the one color (src/mpi/inter/split.ts).
 */
export function interSplit(inter: Communicator, color: number, key: number, opts: OpOptions = {}): Promise<Communicator | null> {
  const fields = { rank: inter.rank, op: 'split' };
  if (color !== UNDEFINED && !(Number.isInteger(color) && color >= 0)) return Promise.reject(new FmiError('MPI_ERR_ARG', `color must be a non-negative integer or UNDEFINED, got ${color}`, fields));
  if (!Number.isInteger(key)) return Promise.reject(new FmiError('MPI_ERR_ARG', `key must be an integer, got ${key}`, fields));
  return interRun(inter, async ({ local, cross, tag, o }) => {
    const sub = await local.split(color, key, o);
    // Both groups learn every (color, key) of the other: its leaders swap them.
    const ours = (await local.allgather(Int32Array.of(color, key), o)) as Int32Array;
    const got = local.rank === 0 ? await cross.sendrecv<Int32Array>(ours, 0, 0, { ...o, sendTag: tag, recvTag: tag }) : undefined;
    const theirs = await local.bcast<Int32Array>(got, 0, o);
    if (!sub) return null;
    const peers: { key: number; rank: number }[] = [];
    for (let r = 0; 2 * r < theirs.length; r++) if (theirs[2 * r] === color) peers.push({ key: theirs[2 * r + 1]!, rank: r });
    try {
      if (peers.length === 0) return null;
      // Their leader is the rank of this color that their split put first.
      peers.sort((a, b) => a.key - b.key || a.rank - b.rank);
      // The class through the instance: this module sits below communicator.ts.
      return await (sub.constructor as typeof Communicator).intercomm(sub, 0, sub.rank === 0 ? cross : undefined, peers[0]!.rank, { ...o, tag });
    } finally {
      await sub.free();
    }
  }, opts, 'split');
}
