import { internals, type Communicator } from '../../comm/communicator.js';
import type { CommEntry } from '../runtime.js';

/** World ranks of a communicator's local group and, on an intercommunicator, of the remote one. */
export function groupsOf(comm: Communicator): { group: number[]; remote?: number[] } {
  const { members, peers } = internals(comm);
  if (!peers) return { group: members };
  const remote = new Set(peers);
  return { group: members.filter((w) => !remote.has(w)), remote: peers };
}

/** MPI_Comm_split on an intercommunicator (MPI 3.1 §6.4.2): the Communicator's own (src/comm/inter-split.ts). */
export function interSplit(c: CommEntry, color: number, key: number): Promise<Communicator | null> {
  return c.comm.split(color, key);
}
