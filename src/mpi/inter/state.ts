import { freeInterState, interRun as runOn, type InterCall } from '../../comm/inter-collectives.js';
import { Err, PROC_NULL, ROOT } from '../abi.js';
import { MpiError } from '../errors.js';
import type { CommEntry } from '../runtime.js';

// The machinery of intercommunicator collectives (the local
// intracommunicator, the private duplicate, the call order) lives with the
// Communicator (src/comm/inter-collectives.ts), which the TS API shares.
export type { InterCall } from '../../comm/inter-collectives.js';

/** Runs `body` as the next collective of intercommunicator c; call it synchronously from the MPI call. */
export function interRun<T>(c: CommEntry, body: (k: InterCall) => Promise<T>): Promise<T> {
  return runOn(c.comm, body);
}

/** Frees what the collectives of c made (MPI_Comm_free). */
export function freeInter(c: CommEntry): Promise<unknown> {
  return freeInterState(c.comm);
}

/**
 * The part a rank plays in a rooted collective on an intercommunicator: the
 * root passes MPI_ROOT, the rest of its group MPI_PROC_NULL, the other group
 * the root's rank there.
 */
export type Role = 'root' | 'idle' | 'leaf';

export function roleOf(c: CommEntry, root: number): Role {
  if (root === ROOT) return 'root';
  if (root === PROC_NULL) return 'idle';
  const n = c.remote!.length;
  if (Number.isInteger(root) && root >= 0 && root < n) return 'leaf';
  throw new MpiError(Err.ROOT, `root on an intercommunicator must be MPI_ROOT, MPI_PROC_NULL or a rank of the remote group (0..${n - 1}), got ${root}`);
}
