import { isTyped } from '../codec.js';
import type { FmiErrorFields } from '../errors.js';
import type { NumericArray } from '../kernels/index.js';
import type { Op } from '../ops/op.js';
import type { OpOptions } from '../util/deadline.js';
import type { Communicator } from './communicator.js';
import { attempt, crossSwap, failure, interRun, intoOf, isFailure, raise, unwrap, type InterCall } from './inter-collectives.js';
import { joinTyped, layoutOr, placeTyped, recvAll, sendParts, slices } from './inter-rooted.js';
import { checkSpan, layout, part, type Layout } from './vector.js';

// The collectives on an intercommunicator where every rank gets something
// (MPI 3.1 §5.2.2): each gets what the other group gave. Reductions and
// gathers run within a group to its rank 0, the two ranks 0 swap results,
// and each hands its own group what it got; the all-to-alls go pairwise
// between the groups.

const fieldsOf = (inter: Communicator, op: string): FmiErrorFields => ({ rank: inter.rank, op });

/** The leaders swap what their groups made (a failure record for one that failed); undefined at the other ranks. */
async function swap(k: InterCall, mine: unknown): Promise<unknown> {
  if (k.local.rank !== 0) return undefined;
  return attempt(() => crossSwap(k, mine));
}

/** allreduce: each rank gets the reduction of the other group's values. */
export function interAllreduce<T>(inter: Communicator, data: T, op: Op, opts: OpOptions & { into?: NumericArray } = {}): Promise<T> {
  const f = fieldsOf(inter, 'allreduce');
  return interRun(inter, async (k) => {
    const mine = await attempt(() => k.local.reduce(data, op, 0, k.o));
    const out = await k.local.bcast(await swap(k, mine), 0, k.o);
    unwrap(mine, f);
    return intoOf<T>(unwrap(out, f), opts.into, f);
  }, opts, 'allreduce');
}

/** allgather: each rank gets the other group's values by remote rank (one concatenated TypedArray for TypedArrays). */
export function interAllgather<T>(inter: Communicator, data: T, opts: OpOptions = {}): Promise<T extends NumericArray ? T : T[]> {
  const f = fieldsOf(inter, 'allgather');
  return interRun(inter, async (k) => {
    const mine = await attempt(() => k.local.gather(data, 0, k.o));
    const out = await k.local.bcast(await swap(k, mine), 0, k.o);
    unwrap(mine, f);
    return unwrap(out, f);
  }, opts, 'allgather');
}

/** allgatherv: counts[r] elements from remote rank r, placed at displs[r] (counts and displs by remote rank). */
export function interAllgatherv<T extends NumericArray>(inter: Communicator, data: T, counts: number[], opts: OpOptions & { displs?: number[] } = {}): Promise<T> {
  const f = fieldsOf(inter, 'allgatherv');
  return interRun(inter, async (k) => {
    const l = layoutOr(counts, opts.displs, inter.remoteSize!, 'allgatherv', f);
    // The group's parts end to end at its rank 0: the receivers cut them apart by their counts.
    const mine = await attempt(() => (isTyped(data) ? k.local.gather(data, 0, k.o) : raise('MPI_ERR_TYPE', 'allgatherv works on TypedArrays', f)));
    const out = await k.local.bcast(await swap(k, mine), 0, k.o);
    if (l instanceof Error) throw l;
    unwrap(mine, f);
    const all = unwrap<NumericArray>(out, f);
    const total = l.counts.reduce((a, b) => a + b, 0);
    if (!isTyped(all) || all.length !== total) raise('MPI_ERR_COUNT', `the other group sent ${isTyped(all) ? all.length : 0} elements in all, counts add up to ${total}`, f);
    let at = 0;
    return placeTyped(l.counts.map((n) => all.subarray(at, (at += n))), l, f) as T;
  }, opts, 'allgatherv');
}

/** alltoall: items[r] (or the r-th equal slice) goes to remote rank r; the result holds what each remote rank sent this one. */
export function interAlltoall<T>(inter: Communicator, items: readonly T[] | NumericArray, opts: OpOptions = {}): Promise<T[] | NumericArray> {
  const f = fieldsOf(inter, 'alltoall');
  return interRun(inter, async (k) => {
    const n = inter.remoteSize!;
    const got = await exchange(k, n, f, () => slices(items, n, f));
    return isTyped(items) ? joinTyped(got as NumericArray[], f) : (got as T[]);
  }, opts, 'alltoall');
}

/**
 * alltoallv: sendCounts[r] elements from sdispls[r] go to remote rank r;
 * recvCounts[s] elements from remote rank s land at rdispls[s].
 */
export function interAlltoallv<T extends NumericArray>(
  inter: Communicator, data: T, sendCounts: number[], recvCounts: number[], opts: OpOptions & { sdispls?: number[]; rdispls?: number[] } = {},
): Promise<T> {
  const f = fieldsOf(inter, 'alltoallv');
  return interRun(inter, async (k) => {
    const n = inter.remoteSize!;
    const rl = layoutOr(recvCounts, opts.rdispls, n, 'alltoallv', f);
    const got = await exchange(k, n, f, () => {
      if (!isTyped(data)) raise('MPI_ERR_TYPE', 'alltoallv works on TypedArrays', f);
      const sl = layout(sendCounts, opts.sdispls, n, 'alltoallv', f);
      checkSpan(data, sl, 'alltoallv', f);
      return sl.counts.map((_, r) => part(data, sl, r));
    });
    if (rl instanceof Error) throw rl;
    return placeTyped(got, rl, f) as T;
  }, opts, 'alltoallv');
}

/** Part r of make() to remote rank r, one from each remote rank back; this rank's own failure first, then theirs. */
async function exchange(k: InterCall, n: number, f: FmiErrorFields, make: () => readonly unknown[]): Promise<unknown[]> {
  const got = recvAll<unknown>(k, n, f);
  got.catch(() => {}); // awaited below, after the sends
  await sendParts(k, n, make);
  return got;
}

/**
 * reduceScatter: the reduction of the other group's vectors, block r of it
 * (counts[r] elements; by default equal blocks) to rank r of this group.
 * Both groups' vectors have the same length: the sum of either group's counts.
 */
export function interReduceScatter<T extends NumericArray>(inter: Communicator, data: T, op: Op, opts: OpOptions & { counts?: number[]; into?: NumericArray } = {}): Promise<T> {
  const f = fieldsOf(inter, 'reduceScatter');
  return interRun(inter, async (k) => {
    let l: Layout | Error;
    try {
      if (!isTyped(data)) raise('MPI_ERR_TYPE', 'reduceScatter works on TypedArrays', f);
      const n = inter.size;
      if (opts.counts === undefined && data.length % n !== 0) raise('MPI_ERR_COUNT', `length ${data.length} does not divide into ${n} blocks`, f);
      l = layout(opts.counts ?? new Array<number>(n).fill(data.length / n), undefined, n, 'reduceScatter', f);
      if (l.extent !== data.length) raise('MPI_ERR_COUNT', `counts add up to ${l.extent}, data has ${data.length} elements`, f);
    } catch (err) {
      l = err as Error;
    }
    const mine = await attempt(() => k.local.reduce(data, op, 0, k.o));
    const theirs = await swap(k, mine);
    let items: unknown[] | undefined;
    if (k.local.rank === 0) items = blocksFor(theirs, l, inter.size, f);
    const got = await k.local.scatter(items, 0, k.o);
    if (l instanceof Error) throw l;
    unwrap(mine, f);
    const block = unwrap<NumericArray>(got, f);
    const into = opts.into;
    if (into == null) return block as T;
    if (!isTyped(into) || into.constructor !== block.constructor || into.length < block.length) raise('MPI_ERR_ARG', `\`into\` must be a ${block.constructor.name} of at least ${block.length} elements`, f);
    const view = into.subarray(0, block.length) as NumericArray;
    (view as { set(a: ArrayLike<unknown>): void }).set(block as ArrayLike<unknown>);
    return view as T;
  }, opts, 'reduceScatter');
}

/** At a group's rank 0: the other group's reduction cut into this group's blocks, or a failure record for every rank. */
function blocksFor(theirs: unknown, l: Layout | Error, n: number, f: FmiErrorFields): unknown[] {
  try {
    if (l instanceof Error) throw l;
    const v = unwrap<NumericArray>(theirs, f);
    if (!isTyped(v) || v.length !== l.extent) raise('MPI_ERR_COUNT', `the other group reduced ${isTyped(v) ? v.length : 0} elements, this group's counts add up to ${l.extent}`, f);
    return l.counts.map((_, r) => part(v, l, r));
  } catch (err) {
    return new Array<unknown>(n).fill(isFailure(theirs) ? theirs : failure(err));
  }
}
