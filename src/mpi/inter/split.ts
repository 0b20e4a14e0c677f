import { Communicator, internals } from '../../comm/communicator.js';
import { UNDEFINED } from '../abi.js';
import type { CommEntry } from '../runtime.js';
import { interRun } from './state.js';

/** World ranks of a communicator's local group and, on an intercommunicator, of the remote one. */
export function groupsOf(comm: Communicator): { group: number[]; remote?: number[] } {
  const { members, peers } = internals(comm);
  if (!peers) return { group: members };
  const remote = new Set(peers);
  return { group: members.filter((w) => !remote.has(w)), remote: peers };
}

/**
 * MPI_Comm_split on an intercommunicator (MPI 3.1 §6.4.2): each group splits
 * by color, ordered by key; the ranks of one color in both groups make an
 * intercommunicator. A color only one group has gives MPI_COMM_NULL (null)
 * there, as does MPI_UNDEFINED. MPI_Comm_create on one is this split with
 * the group's members as the one color.
 */
export function interSplit(c: CommEntry, color: number, key: number): Promise<Communicator | null> {
  return interRun(c, async ({ local, cross, tag }) => {
    const sub = await local.split(color, key);
    // Both groups learn every (color, key) of the other: its leaders swap them.
    const ours = (await local.allgather(Int32Array.of(color, key))) as Int32Array;
    const got = local.rank === 0 ? await cross.sendrecv<Int32Array>(ours, 0, 0, { sendTag: tag, recvTag: tag }) : undefined;
    const theirs = await local.bcast<Int32Array>(got, 0);
    if (!sub) return null;
    const peers: { key: number; rank: number }[] = [];
    for (let r = 0; 2 * r < theirs.length; r++) if (theirs[2 * r] === color && color !== UNDEFINED) peers.push({ key: theirs[2 * r + 1]!, rank: r });
    try {
      if (peers.length === 0) return null;
      // Their leader is the rank of this color that their split put first.
      peers.sort((a, b) => a.key - b.key || a.rank - b.rank);
      return await Communicator.intercomm(sub, 0, sub.rank === 0 ? cross : undefined, peers[0]!.rank, { tag });
    } finally {
      await sub.free();
    }
  });
}
