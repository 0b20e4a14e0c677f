import type { Communicator } from '../../comm/communicator.js';
import { Err, PROC_NULL, ROOT } from '../abi.js';
import { MpiError } from '../errors.js';
import type { CommEntry } from '../runtime.js';

/**
 * What the collectives of an intercommunicator run on (MPI 3.1 §5.2.2): an
 * intracommunicator of the local group (reductions, gathers and broadcasts
 * within it) and a private duplicate of the intercommunicator (messages to
 * the remote group that never match the program's own). Both are made by
 * the first collective every rank of both groups calls, and freed with it.
 */
export interface InterState {
  local: Promise<Communicator>;
  cross: Promise<Communicator>;
  /**
   * Collectives run one after another: each calls the local communicator's
   * collectives after awaiting messages, and every rank of a group must
   * call those in the same order.
   */
  queue: Promise<unknown>;
  /** Numbers the collectives (the same at every rank of both groups): the tag of their messages across. */
  seq: number;
}

/** Tags of the cross messages wrap here (the channels keep them apart by sequence anyway). */
const TAG_SPAN = 1 << 20;

function stateOf(c: CommEntry): InterState {
  if (c.inter) return c.inter;
  const inter = c.comm;
  // merge and dup are called now, in the program's call order, so every rank queues them alike.
  const merged = inter.merge(false);
  const cross = inter.dup();
  // The local group's leader's world rank names the group: the two groups are disjoint.
  const local = merged.then(async (m) => {
    try {
      return (await m.split(c.group[0]!, inter.rank))!;
    } finally {
      await m.free();
    }
  });
  local.catch(() => {});
  cross.catch(() => {});
  c.inter = { local, cross, queue: Promise.resolve(), seq: 0 };
  return c.inter;
}

/** What a collective's body gets: the two communicators and the tag of this call's cross messages. */
export interface InterCall {
  local: Communicator;
  cross: Communicator;
  tag: number;
}

/**
 * Runs `body` as the next collective of intercommunicator c, after the ones
 * called before it. Call it synchronously from the MPI call (it takes the
 * call's sequence number).
 */
export function interRun<T>(c: CommEntry, body: (k: InterCall) => Promise<T>): Promise<T> {
  const s = stateOf(c);
  const tag = s.seq++ % TAG_SPAN;
  const run = s.queue.then(async () => body({ local: await s.local, cross: await s.cross, tag }));
  s.queue = run.catch(() => {});
  return run;
}

/** Frees what the collectives of c made (MPI_Comm_free). */
export function freeInter(c: CommEntry): Promise<unknown> {
  const s = c.inter;
  if (!s) return Promise.resolve();
  return s.queue.then(() => Promise.all([s.local.then((l) => l.free()), s.cross.then((x) => x.free())])).catch(() => {});
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
