import { Communicator, internals } from '../comm/communicator.js';
import { Err } from './abi.js';
import { addComm } from './comms.js';
import { MpiError } from './errors.js';
import { groupsOf } from './inter/split.js';
import type { CommEntry, Impl, MpiRuntime } from './runtime.js';

/**
 * Communicators made by some ranks only (MPI_Comm_create_group) and
 * intercommunicators: Communicator.createGroup, Communicator.intercomm and
 * merge. A CommEntry with `remote` is an intercommunicator; its `group` is
 * the local group.
 */

function remoteOf(c: CommEntry): number[] {
  if (!c.remote) throw new MpiError(Err.COMM, 'not an intercommunicator');
  return c.remote;
}

async function intercommCreate(rt: MpiRuntime, localH: number, localLeader: number, peerH: number, remoteLeader: number, tag: number): Promise<number> {
  const world = rt.world!;
  // peer_comm matters at the local leader only; errors go to local_comm's handler.
  const peer = rt.comm(localH).comm.rank === localLeader ? rt.comm(peerH).comm : undefined;
  const c = rt.comm(localH);
  if (c.remote) throw new MpiError(Err.COMM, 'local_comm must be an intracommunicator');
  // MPI_COMM_SELF (and what is made from it) is a job of its own; the
  // intercommunicator needs the world's channels: the same ranks, made anew there.
  const local = internals(c.comm).set !== internals(world).set ? await world.createGroup(c.group) : c.comm;
  try {
    const comm = await Communicator.intercomm(local, localLeader, peer, remoteLeader, { tag });
    const { group, remote } = groupsOf(comm);
    return addComm(rt, c, comm, group, undefined, remote);
  } finally {
    if (local !== c.comm) await local.free();
  }
}

export const INTERCOMM_IMPLS: Record<string, Impl> = {
  MPI_Comm_create_group(rt, commH, groupH, tag, newPtr) {
    const c = rt.comm(commH);
    const g = rt.group(groupH);
    if (c.remote) throw new MpiError(Err.COMM, 'MPI_Comm_create_group needs an intracommunicator');
    const ranks = g.map((w) => c.group.indexOf(w));
    if (ranks.includes(-1)) throw new MpiError(Err.GROUP, 'the group is not a subset of the communicator\'s group');
    // A rank outside the group (e.g. passing MPI_GROUP_EMPTY) gets MPI_COMM_NULL at once.
    if (!g.includes(rt.worldRank)) return rt.mem.setI32(newPtr, 0), 0;
    return c.comm.createGroup(ranks, { tag }).then((comm) => (rt.mem.setI32(newPtr, addComm(rt, c, comm, [...g])), 0));
  },

  MPI_Intercomm_create: (rt, localH, localLeader, peerH, remoteLeader, tag, newPtr) =>
    intercommCreate(rt, localH, localLeader, peerH, remoteLeader, tag).then((h) => (rt.mem.setI32(newPtr, h), 0)),

  MPI_Intercomm_merge(rt, interH, high, newPtr) {
    const c = rt.comm(interH);
    remoteOf(c);
    return c.comm.merge(high !== 0).then((comm) => (rt.mem.setI32(newPtr, addComm(rt, c, comm, groupsOf(comm).group)), 0));
  },

  MPI_Comm_test_inter(rt, commH, flag) {
    rt.mem.setI32(flag, rt.comm(commH).remote ? 1 : 0);
    return 0;
  },

  MPI_Comm_remote_size(rt, commH, sizePtr) {
    rt.mem.setI32(sizePtr, remoteOf(rt.comm(commH)).length);
    return 0;
  },

  MPI_Comm_remote_group(rt, commH, groupPtr) {
    rt.mem.setI32(groupPtr, rt.groups.add([...remoteOf(rt.comm(commH))]));
    return 0;
  },

  // No rank of an fmi job was started by MPI_Comm_spawn (which fmi does not support).
  MPI_Comm_get_parent(rt, parentPtr) {
    rt.mem.setI32(parentPtr, 0);
    return 0;
  },
};
