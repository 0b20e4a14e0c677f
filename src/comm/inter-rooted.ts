import { isTyped } from '../codec.js';
import type { FmiErrorFields } from '../errors.js';
import type { NumericArray } from '../kernels/index.js';
import type { Op } from '../ops/op.js';
import type { OpOptions } from '../util/deadline.js';
import type { Communicator } from './communicator.js';
import {
  attempt, crossRecv, failure, interRole, interRun, intoOf, raise, sendOrFail, unwrap, type InterCall, type InterName, type InterRoot,
} from './inter-collectives.js';
import { checkSpan, layout, part } from './vector.js';

// Rooted collectives on an intercommunicator (MPI 3.1 §5.2.2): the root
// (ROOT) gives to or takes from the other group; the rest of its group
// (PROC_NULL) takes no part but its turn and gets undefined.

const fieldsOf = (inter: Communicator, op: string, peer?: number): FmiErrorFields => ({ rank: inter.rank, op, peer });

/** bcast: the root's value reaches every rank of the other group (through its rank 0). */
export function interBcast<T>(inter: Communicator, data: T | undefined, root: InterRoot, opts: OpOptions & { bytes?: number; into?: NumericArray } = {}): Promise<T | undefined> {
  const f = fieldsOf(inter, 'bcast');
  return rooted(inter, root, 'bcast', opts, async (k, role) => {
    if (role === 'root') return void (await sendOrFail(k, data, 0));
    if (role === 'idle') return undefined;
    const got = k.local.rank === 0 ? await attempt(() => crossRecv<T>(k, root as number)) : undefined;
    // A failure record travels like data, so every rank of the group fails alike.
    const out = await k.local.bcast(got, 0, k.o);
    return intoOf<T>(unwrap(out, { ...f, peer: root as number }), opts.into, f);
  });
}

/** reduce: the root gets the reduction of the other group's values. */
export function interReduce<T>(inter: Communicator, data: T, op: Op, root: InterRoot, opts: OpOptions & { into?: NumericArray } = {}): Promise<T | undefined> {
  const f = fieldsOf(inter, 'reduce');
  return rooted(inter, root, 'reduce', opts, async (k, role) => {
    if (role === 'root') return intoOf<T>(unwrap(await crossRecv(k, 0), { ...f, peer: 0 }), opts.into, f);
    if (role === 'idle') return undefined;
    const mine = await attempt(() => k.local.reduce(data, op, 0, k.o));
    if (k.local.rank === 0) await k.cross.send(mine, root as number, { ...k.o, tag: k.tag });
    return void unwrap(mine, f);
  });
}

/**
 * gather: the root gets the other group's values by remote rank: one
 * concatenated TypedArray when they are TypedArrays, an array otherwise.
 */
export function interGather<T>(inter: Communicator, data: T, root: InterRoot, opts: OpOptions = {}): Promise<T[] | T | undefined> {
  const f = fieldsOf(inter, 'gather');
  return rooted(inter, root, 'gather', opts, async (k, role) => {
    if (role === 'leaf') await sendOrFail(k, data, root as number);
    if (role !== 'root') return undefined;
    const items = await recvAll<T>(k, inter.remoteSize!, f);
    return isTyped(items[0]) ? (joinTyped(items as NumericArray[], f) as T) : items;
  });
}

/** scatter: remote rank r gets items[r] (an array of remoteSize values, or the r-th equal slice of a TypedArray). */
export function interScatter<T>(inter: Communicator, items: readonly T[] | NumericArray | undefined, root: InterRoot, opts: OpOptions = {}): Promise<T | undefined> {
  const f = fieldsOf(inter, 'scatter');
  return rooted(inter, root, 'scatter', opts, async (k, role) => {
    if (role === 'root') return void (await sendParts(k, inter.remoteSize!, () => slices(items, inter.remoteSize!, f)));
    if (role === 'idle') return undefined;
    return unwrap<T>(await crossRecv(k, root as number), { ...f, peer: root as number });
  });
}

/** gatherv: the root places counts[r] elements from remote rank r at displs[r] (counts and displs by remote rank, at the root). */
export function interGatherv<T extends NumericArray>(inter: Communicator, data: T, counts: number[], root: InterRoot, opts: OpOptions & { displs?: number[] } = {}): Promise<T | undefined> {
  const f = fieldsOf(inter, 'gatherv');
  return rooted(inter, root, 'gatherv', opts, async (k, role) => {
    if (role === 'leaf') await sendParts(k, 1, () => [isTyped(data) ? data : raise('MPI_ERR_TYPE', 'gatherv works on TypedArrays', f)], root as number);
    if (role !== 'root') return undefined;
    const n = inter.remoteSize!;
    const l = layoutOr(counts, opts.displs, n, 'gatherv', f);
    const items = await recvAll<NumericArray>(k, n, f);
    if (l instanceof Error) throw l;
    return placeTyped(items, l, f) as T;
  });
}

/** scatterv: remote rank r gets counts[r] elements from displs[r] of the root's data. */
export function interScatterv<T extends NumericArray>(inter: Communicator, data: T | undefined, counts: number[], root: InterRoot, opts: OpOptions & { displs?: number[] } = {}): Promise<T | undefined> {
  const f = fieldsOf(inter, 'scatterv');
  return rooted(inter, root, 'scatterv', opts, async (k, role) => {
    if (role === 'root') {
      return void (await sendParts(k, inter.remoteSize!, () => {
        const l = layout(counts, opts.displs, inter.remoteSize!, 'scatterv', f);
        if (!isTyped(data)) raise('MPI_ERR_TYPE', 'scatterv needs a TypedArray at the root', f);
        checkSpan(data, l, 'scatterv', f);
        return l.counts.map((_, r) => part(data, l, r));
      }));
    }
    if (role === 'idle') return undefined;
    return unwrap<T>(await crossRecv(k, root as number), { ...f, peer: root as number });
  });
}

// ---- shared by the rooted calls and inter-all.ts -----------------------------------

/** A rooted call: the root checked here (MPI_ERR_ROOT before the call takes its turn, as on an intracommunicator). */
function rooted<T>(inter: Communicator, root: InterRoot, op: InterName, opts: OpOptions, body: (k: InterCall, role: 'root' | 'idle' | 'leaf') => Promise<T>): Promise<T> {
  let role: 'root' | 'idle' | 'leaf';
  try {
    role = interRole(inter, root, op);
  } catch (err) {
    return Promise.reject(err);
  }
  return interRun(inter, (k) => body(k, role), opts, op);
}

/** The layout, or the error to raise once this rank has taken its part. */
export function layoutOr(counts: unknown, displs: unknown, n: number, op: string, f: FmiErrorFields) {
  try {
    return layout(counts, displs, n, op, f);
  } catch (err) {
    return err as Error;
  }
}

/** Receives one value from each remote rank; the first failure record among them is the call's error. */
export async function recvAll<T>(k: InterCall, n: number, f: FmiErrorFields): Promise<T[]> {
  const got = await Promise.all(Array.from({ length: n }, (_, r) => crossRecv(k, r)));
  return got.map((v, r) => unwrap<T>(v, { ...f, peer: r }));
}

/**
 * Sends part i of `make()` to remote rank first + i (n parts); if `make`
 * fails, a failure record to each of them instead, then this rank fails.
 */
export async function sendParts(k: InterCall, n: number, make: () => readonly unknown[], first = 0): Promise<void> {
  let parts: readonly unknown[];
  try {
    parts = make();
  } catch (err) {
    const bad = failure(err);
    await Promise.all(Array.from({ length: n }, (_, i) => k.cross.send(bad, first + i, { ...k.o, tag: k.tag })));
    throw err;
  }
  await Promise.all(parts.map((p, i) => sendOrFail(k, p, first + i)));
}

/** One item per remote rank: `items` itself (n values), or n equal slices of a TypedArray. */
export function slices(items: unknown, n: number, f: FmiErrorFields): readonly unknown[] {
  if (isTyped(items)) {
    if (items.length % n !== 0) raise('MPI_ERR_COUNT', `${items.constructor.name} of length ${items.length} does not divide into ${n} equal parts (the remote group's size)`, f);
    const m = items.length / n;
    return Array.from({ length: n }, (_, r) => items.subarray(r * m, (r + 1) * m));
  }
  if (!Array.isArray(items) || items.length !== n) {
    raise('MPI_ERR_COUNT', `needs an array of ${n} items (the remote group's size) or a TypedArray, got ${Array.isArray(items) ? `${items.length} items` : typeof items}`, f);
  }
  return items;
}

/** TypedArrays of one type, end to end. */
export function joinTyped(items: NumericArray[], f: FmiErrorFields): NumericArray {
  let at = 0;
  const displs = items.map((it) => ((at += it.length), at - it.length));
  return placeTyped(items, { counts: items.map((it) => it.length), displs, extent: at }, f);
}

/** Places items[r] (counts[r] elements) at displs[r] of one new TypedArray of their type. */
export function placeTyped(items: unknown[], l: { counts: number[]; displs: number[]; extent: number }, f: FmiErrorFields): NumericArray {
  const like = items.find(isTyped);
  const Ctor = (like?.constructor ?? Uint8Array) as new (n: number) => NumericArray;
  const out = new Ctor(l.extent);
  items.forEach((it, r) => {
    if (!isTyped(it) || it.constructor !== Ctor) raise('MPI_ERR_TYPE', `remote rank ${r} sent ${isTyped(it) ? it.constructor.name : typeof it}, another rank a ${Ctor.name}`, { ...f, peer: r });
    if (it.length !== l.counts[r]) raise('MPI_ERR_COUNT', `remote rank ${r} sent ${it.length} elements, counts say ${l.counts[r]}`, { ...f, peer: r });
    (out as { set(a: ArrayLike<unknown>, o: number): void }).set(it as ArrayLike<unknown>, l.displs[r]!);
  });
  return out;
}
