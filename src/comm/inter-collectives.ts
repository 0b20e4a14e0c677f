import type { Communicator } from './communicator.js';
import type { Op } from '../ops/op.js';
import { FmiError } from '../errors.js';

// Collectives on an intercommunicator (MPI 3.1 §5.2.2), for the TS API and
// for the MPI layer (src/mpi/inter/*.ts builds its calls on interRun). Each
// group gets the other group's data. They run on two communicators made by
// the first such call at every rank of both groups: an intracommunicator of
// the local group (reductions, gathers, broadcasts within it) and a private
// duplicate of the intercommunicator (messages between the groups that never
// match the program's own). Calls run one after another, in call order.

/**
 * The root of a rooted collective on an intercommunicator: in the root's
 * group the root passes 'root' (MPI_ROOT) and the others 'idle'
 * (MPI_PROC_NULL); the other group passes the root's rank in the remote group.
 */
export type InterRoot = number | 'root' | 'idle';

interface InterState {
  local: Promise<Communicator>;
  cross: Promise<Communicator>;
  queue: Promise<unknown>;
  /** Numbers the calls alike at every rank of both groups: the tag of their messages across. */
  seq: number;
}

/** What a call's body gets: the two communicators and the tag of this call's cross messages. */
export interface InterCall {
  local: Communicator;
  cross: Communicator;
  tag: number;
}

/** Tags of the cross messages wrap here (the channels keep them apart by sequence anyway). */
const TAG_SPAN = 1 << 20;

const states = new WeakMap<Communicator, InterState>();

function stateOf(inter: Communicator): InterState {
  let s = states.get(inter);
  if (s) return s;
  if (!inter.isInter) throw new FmiError('MPI_ERR_COMM', 'an intercommunicator collective needs an intercommunicator (Communicator.intercomm)');
  // merge and dup are called now, in call order, so every rank queues them alike.
  const merged = inter.merge(false);
  const cross = inter.dup();
  // merge(false) at both groups puts one group first, in local rank order:
  // a rank of the first group has the same rank in both.
  const local = merged.then(async (m) => {
    try {
      return (await m.split(m.rank === inter.rank ? 0 : 1, inter.rank))!;
    } finally {
      await m.free();
    }
  });
  local.catch(() => {});
  cross.catch(() => {});
  s = { local, cross, queue: Promise.resolve(), seq: 0 };
  states.set(inter, s);
  return s;
}

/** Runs `body` as the next collective of `inter`, after those called before it; call it synchronously (it takes the call's number). */
export function interRun<T>(inter: Communicator, body: (k: InterCall) => Promise<T>): Promise<T> {
  let s: InterState;
  try {
    s = stateOf(inter);
  } catch (err) {
    return Promise.reject(err);
  }
  const tag = s.seq++ % TAG_SPAN;
  const run = s.queue.then(async () => body({ local: await s.local, cross: await s.cross, tag }));
  s.queue = run.catch(() => {});
  return run;
}

/** Frees what the collectives of `inter` made (before freeing `inter` itself). */
export function freeInterState(inter: Communicator): Promise<unknown> {
  const s = states.get(inter);
  if (!s) return Promise.resolve();
  states.delete(inter);
  return s.queue.then(() => Promise.all([s.local.then((l) => l.free()), s.cross.then((x) => x.free())])).catch(() => {});
}

/** The part this rank plays for `root`; FmiError MPI_ERR_ROOT for a rank outside the remote group (the rooted calls are async: a rejection). */
export function interRole(inter: Communicator, root: InterRoot): 'root' | 'idle' | 'leaf' {
  if (root === 'root' || root === 'idle') return root;
  const n = inter.remoteSize ?? 0;
  if (Number.isInteger(root) && root >= 0 && root < n) return 'leaf';
  throw new FmiError('MPI_ERR_ROOT', `root on an intercommunicator must be 'root', 'idle' or a rank of the remote group (0..${n - 1}), got ${root}`);
}

/** bcast: the root's value reaches every rank of the other group (through its rank 0); the root's group gets undefined. */
export async function interBcast<T>(inter: Communicator, data: T | undefined, root: InterRoot): Promise<T | undefined> {
  const role = interRole(inter, root);
  return interRun(inter, async ({ local, cross, tag }) => {
    if (role === 'root') return void (await cross.send(data, 0, { tag }));
    if (role === 'idle') return undefined;
    const mine = local.rank === 0 ? await cross.recv<T>(root as number, { tag }) : undefined;
    return local.bcast<T>(mine, 0);
  });
}

/** allreduce: each rank gets the reduction of the other group's values (reduced in each group, swapped by the two ranks 0, broadcast). */
export function interAllreduce<T>(inter: Communicator, data: T, op: Op): Promise<T> {
  return interRun(inter, async ({ local, cross, tag }) => {
    const mine = await local.reduce(data, op, 0);
    const theirs = local.rank === 0 ? await cross.sendrecv<T>(mine, 0, 0, { sendTag: tag, recvTag: tag }) : undefined;
    return local.bcast<T>(theirs, 0);
  });
}

/** reduce: the root gets the reduction of the other group's values; everyone else undefined. */
export async function interReduce<T>(inter: Communicator, data: T, op: Op, root: InterRoot): Promise<T | undefined> {
  const role = interRole(inter, root);
  return interRun(inter, async ({ local, cross, tag }) => {
    if (role === 'root') return cross.recv<T>(0, { tag });
    if (role === 'idle') return undefined;
    const mine = await local.reduce(data, op, 0);
    if (local.rank === 0) await cross.send(mine, root as number, { tag });
    return undefined;
  });
}

/** allgather: each rank gets the other group's values, by remote rank. */
export function interAllgather<T>(inter: Communicator, data: T): Promise<T[]> {
  return interRun(inter, async ({ local, cross, tag }) => {
    const mine = (await local.gather(data, 0)) as T[] | undefined;
    const theirs = local.rank === 0 ? await cross.sendrecv<T[]>(mine, 0, 0, { sendTag: tag, recvTag: tag }) : undefined;
    return local.bcast<T[]>(theirs, 0);
  });
}

/** gather: the root gets the other group's values, by remote rank; everyone else undefined. */
export async function interGather<T>(inter: Communicator, data: T, root: InterRoot): Promise<T[] | undefined> {
  const role = interRole(inter, root);
  return interRun(inter, async ({ cross, tag }) => {
    if (role === 'leaf') await cross.send(data, root as number, { tag });
    if (role !== 'root') return undefined;
    return Promise.all(Array.from({ length: inter.remoteSize! }, (_, r) => cross.recv<T>(r, { tag })));
  });
}

/** scatter: remote rank r gets the root's items[r]; the root's group gets undefined. */
export async function interScatter<T>(inter: Communicator, items: readonly T[] | undefined, root: InterRoot): Promise<T | undefined> {
  const role = interRole(inter, root);
  if (role === 'root' && (!items || items.length !== inter.remoteSize)) {
    return Promise.reject(new FmiError('MPI_ERR_COUNT', `scatter on an intercommunicator: the root needs one item per remote rank (${inter.remoteSize}), got ${items?.length}`));
  }
  return interRun(inter, async ({ cross, tag }) => {
    if (role === 'root') return void (await Promise.all(items!.map((x, r) => cross.send(x, r, { tag }))));
    if (role === 'idle') return undefined;
    return cross.recv<T>(root as number, { tag });
  });
}

/** alltoall: items[r] goes to remote rank r; the result holds what each remote rank sent this one. */
export function interAlltoall<T>(inter: Communicator, items: readonly T[]): Promise<T[]> {
  if (items.length !== inter.remoteSize) {
    return Promise.reject(new FmiError('MPI_ERR_COUNT', `alltoall on an intercommunicator needs one item per remote rank (${inter.remoteSize}), got ${items.length}`));
  }
  return interRun(inter, async ({ cross, tag }) => {
    const sent = Promise.all(items.map((x, r) => cross.send(x, r, { tag })));
    const got = await Promise.all(items.map((_, r) => cross.recv<T>(r, { tag })));
    await sent;
    return got;
  });
}
