import type { Communicator } from './communicator.js';
import { isTyped } from '../codec.js';
import { ANY_TAG } from '../channels/channel.js';
import { FmiError, MismatchError, type FmiErrorCode, type FmiErrorFields } from '../errors.js';
import { Status } from './request.js';
import type { OpOptions } from '../util/deadline.js';

// Collectives on an intercommunicator (MPI 3.1 §5.2.2), for the TS API and
// for the MPI layer (src/mpi/inter/*.ts builds its calls on interRun). Each
// group gets the other group's data. They run on two communicators made by
// the first such call at every rank of both groups: an intracommunicator of
// the local group (reductions, gathers, broadcasts within it) and a private
// duplicate of the intercommunicator (messages between the groups that never
// match the program's own). Calls run one after another, in call order.
// The bodies are in inter-rooted.ts and inter-all.ts.

/** The root passes ROOT in a rooted collective on an intercommunicator (MPI_ROOT). */
export const ROOT = -3;
/** The rest of the root's group passes PROC_NULL (MPI_PROC_NULL): it takes no part. */
export const PROC_NULL = -2;

/** Color for `split` of a rank that joins no new communicator (MPI_UNDEFINED). */
export const UNDEFINED = -32766;

/**
 * The root of a rooted collective on an intercommunicator: in the root's
 * group the root passes ROOT (or 'root') and the others PROC_NULL (or
 * 'idle'); the other group passes the root's rank in the remote group.
 */
export type InterRoot = number | 'root' | 'idle';

interface InterState {
  local: Promise<Communicator>;
  cross: Promise<Communicator>;
  queue: Promise<unknown>;
  /** Numbers the calls alike at every rank of both groups: the tag of their messages across. */
  seq: number;
}

/** What a call's body gets: the two communicators, the tag of this call's cross messages, the caller's options. */
export interface InterCall {
  local: Communicator;
  cross: Communicator;
  tag: number;
  /** The caller's signal and timeout, for each step of the call. */
  o: OpOptions;
}

/** Call numbers in the tags of the cross messages wrap here (the channels keep them apart by sequence anyway). */
const TAG_SPAN = 1 << 20;

/**
 * The calls, by the number in the low 4 bits of their cross messages' tags
 * (above them, the call's number): a receive that gets another call's
 * message fails with FMI_MISMATCH instead of taking it for this call's data.
 * The MPI layer's calls (src/mpi/inter/) are 'mpi': they receive by exact tag.
 */
const CALLS = ['mpi', 'bcast', 'reduce', 'gather', 'scatter', 'gatherv', 'scatterv', 'allreduce', 'allgather', 'allgatherv', 'alltoall', 'alltoallv', 'reduceScatter', 'split'] as const;
export type InterName = (typeof CALLS)[number];

const states = new WeakMap<Communicator, InterState>();

/** The state of `inter`'s collectives; made by the first, within its signal and timeout (if that fails, so do the later ones: free it). */
function stateOf(inter: Communicator, o: OpOptions): InterState {
  let s = states.get(inter);
  if (s) return s;
  if (!inter.isInter) throw new FmiError('MPI_ERR_COMM', 'an intercommunicator collective needs an intercommunicator (Communicator.intercomm)', { rank: inter.rank });
  // merge and dup are called now, in call order, so every rank queues them alike.
  const merged = inter.merge(false, o);
  const cross = inter.dup(o);
  // merge(false) at both groups puts one group first, in local rank order:
  // a rank of the first group has the same rank in both.
  const local = merged.then(async (m) => {
    try {
      return (await m.split(m.rank === inter.rank ? 0 : 1, inter.rank, o))!;
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
export function interRun<T>(inter: Communicator, body: (k: InterCall) => Promise<T>, o: OpOptions = {}, name: InterName = 'mpi'): Promise<T> {
  let s: InterState;
  const opts = { signal: o.signal, timeoutMs: o.timeoutMs };
  try {
    s = stateOf(inter, opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const tag = ((s.seq++ % TAG_SPAN) << 4) | CALLS.indexOf(name);
  const run = s.queue.then(async () => body({ local: await s.local, cross: await s.cross, tag, o: opts }));
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

/** The part this rank plays for `root`; FmiError MPI_ERR_ROOT for a rank outside the remote group. */
export function interRole(inter: Communicator, root: InterRoot, op = 'collective'): 'root' | 'idle' | 'leaf' {
  if (root === 'root' || root === ROOT) return 'root';
  if (root === 'idle' || root === PROC_NULL) return 'idle';
  const n = inter.remoteSize ?? 0;
  if (typeof root === 'number' && Number.isInteger(root) && root >= 0 && root < n) return 'leaf';
  throw new FmiError('MPI_ERR_ROOT', `root on an intercommunicator must be ROOT, PROC_NULL or a rank of the remote group (0..${n - 1}), got ${String(root)}`, { rank: inter.rank, op });
}

// A rank that cannot contribute still sends, so nobody waits for it: a
// failure record in place of its data, which the receivers raise (and hand on
// within their group) as an error of the call.

const FAILED = 'fmiInterFailure';
/** The error itself, at the rank that made the record (symbol keys are not sent). */
const ORIGIN = Symbol('origin');

export interface Failure {
  [FAILED]: { code: FmiErrorCode; message: string };
  [ORIGIN]?: unknown;
}

export function failure(err: unknown): Failure {
  const e = err instanceof FmiError ? err : new FmiError('FMI_CHANNEL', String((err as Error)?.message ?? err));
  return { [FAILED]: { code: e.code, message: e.message }, [ORIGIN]: err };
}

export function isFailure(v: unknown): v is Failure {
  return typeof v === 'object' && v !== null && !isTyped(v) && Object.prototype.hasOwnProperty.call(v, FAILED);
}

/** `v`, or the error a failure record stands for: this rank's own as it was, one made elsewhere with its code and message. */
export function unwrap<T>(v: unknown, fields: FmiErrorFields): T {
  if (!isFailure(v)) return v as T;
  if (v[ORIGIN] !== undefined) throw v[ORIGIN];
  const f = v[FAILED];
  return raise(f.code, f.message.startsWith(`${f.code}: `) ? f.message.slice(f.code.length + 2) : f.message, fields);
}

export function raise(code: FmiErrorCode, message: string, fields: FmiErrorFields): never {
  throw new FmiError(code, message, fields);
}

/** What `run` resolves to, or a failure record of why it did not. */
export async function attempt<T>(run: () => Promise<T>): Promise<T | Failure> {
  try {
    return await run();
  } catch (err) {
    return failure(err);
  }
}

/** Sends `v` to remote rank r; if `v` cannot be sent as it is (say, not cloneable), a failure record instead. */
export async function sendOrFail(k: InterCall, v: unknown, r: number): Promise<void> {
  try {
    await k.cross.send(v, r, { ...k.o, tag: k.tag });
  } catch (err) {
    const e = err as FmiError;
    if (e?.code === 'FMI_TIMEOUT' || e?.code === 'FMI_ABORTED' || e?.code === 'FMI_PEER_LOST' || e?.code === 'FMI_CLOSED') throw err;
    await k.cross.send(failure(err), r, { ...k.o, tag: k.tag }).catch(() => {});
    throw err;
  }
}

/** Copies `v` into `into` (a TypedArray of its type and length) and returns `into`; `v` itself without one. */
export function intoOf<T>(v: unknown, into: unknown, fields: FmiErrorFields): T {
  if (into == null) return v as T;
  if (!isTyped(into) || !isTyped(v) || into.constructor !== v.constructor || into.length !== v.length) {
    raise('MPI_ERR_ARG', '`into` must be a TypedArray of the type and length of the result', fields);
  }
  (into as { set(a: ArrayLike<unknown>): void }).set(v as ArrayLike<unknown>);
  return into as T;
}

const describeTag = (tag: number) => `${CALLS[tag & 15] ?? 'an unknown call'} (call ${tag >>> 4})`;

function mismatchAt(k: InterCall, r: number, theirs: number): MismatchError {
  return new MismatchError(`remote rank ${r} sent a message of ${describeTag(theirs)}, this rank is in ${describeTag(k.tag)}`, { rank: k.local.rank, op: CALLS[k.tag & 15], peer: r });
}

/** This call's message from remote rank r: one of another call (another collective, or one left by a failed call) is FMI_MISMATCH. */
export async function crossRecv<T>(k: InterCall, r: number): Promise<T> {
  const status = new Status();
  const v = await k.cross.recv<T>(r, { ...k.o, tag: ANY_TAG, status });
  if (status.tag !== k.tag) throw mismatchAt(k, r, status.tag);
  return v;
}

/** Sends `mine` to remote rank 0 and receives its message in this call, as crossRecv. */
export async function crossSwap<T>(k: InterCall, mine: unknown): Promise<T> {
  const status = new Status();
  const v = await k.cross.sendrecv<T>(mine, 0, 0, { ...k.o, sendTag: k.tag, recvTag: ANY_TAG, status });
  if (status.tag !== k.tag) throw mismatchAt(k, 0, status.tag);
  return v;
}
