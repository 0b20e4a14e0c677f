import { decode, decodeError, encode, isTyped, Kind, typedView } from '../codec.js';
import { FmiError } from '../errors.js';
import { elemTypeOf, type NumericArray } from '../kernels/index.js';
import { checkOpFor, type Op } from '../ops/op.js';
import { gatherBinomial } from '../collectives/gather.js';
import { scatterBinomial } from '../collectives/scatter.js';
import { reduceBinomial } from '../collectives/reduce.js';
import { allgatherRing, alltoallPairwise } from '../collectives/allgather.js';
import { RingBuffer } from '../collectives/ring.js';
import { engineFor, withEngine } from '../collectives/engine.js';
import type { CollContext } from '../collectives/context.js';
import { checkCount, concat, intoOrNew, orError, place, raiseItems, splitForRanks } from './assemble.js';
import { checkSpan, layout, part } from './vector.js';

/**
 * The bodies of alltoall, reduceScatter and the "v" collectives: what each
 * runs once the communicator has queued it and bound it to a channel.
 */
export async function alltoallRun<T>(c: CollContext, items: readonly T[] | NumericArray): Promise<T[] | NumericArray> {
  const out = await alltoallPairwise(c, splitForRanks(items, c));
  if (isTyped(items)) return concat(out.map((it, rank) => ({ rank, ...it })), items, c);
  return out.map((it) => decode(it.kind, it.bytes) as T);
}

/** `into`: a TypedArray of data's type for this rank's block (at least its length), written instead of a new array. */
export async function reduceScatterRun<T extends NumericArray>(c: CollContext, data: T, op: Op, blockCounts: number[] | undefined, into?: NumericArray): Promise<T> {
  if (!isTyped(data)) throw new FmiError('MPI_ERR_TYPE', 'reduceScatter works on TypedArrays', c.fields());
  checkOpFor(op, data, { rank: c.rank, op: 'reduceScatter' });
  let counts = blockCounts;
  if (counts === undefined) {
    if (data.length % c.size !== 0) throw new FmiError('MPI_ERR_COUNT', `length ${data.length} does not divide into ${c.size} blocks`, c.fields());
    counts = new Array<number>(c.size).fill(data.length / c.size);
  }
  const l = layout(counts, undefined, c.size, 'reduceScatter', c.fields());
  if (l.extent !== data.length) throw new FmiError('MPI_ERR_COUNT', `counts add up to ${l.extent}, data has ${data.length} elements`, c.fields());
  const mineCount = l.counts[c.rank]!;
  if (into != null && (into.constructor !== data.constructor || into.length < mineCount)) {
    // The others must not wait for this rank: it takes part, then fails.
    const err = new FmiError('MPI_ERR_ARG', `\`into\` must be a ${data.constructor.name} of at least ${mineCount} elements`, c.fields());
    await reduceScatterRun(c, data, op, blockCounts);
    throw err;
  }
  if (op.predefined && c.size > 1) {
    const blocks = l.counts.map((count, i) => ({ offset: l.displs[i]!, count }));
    const ring = new RingBuffer(c, op.predefined, elemTypeOf(data)!, data, blocks);
    try {
      await ring.reduceScatter();
      const t = elemTypeOf(data)!;
      if (into == null) return typedView(t, ring.take(blocks[c.rank])) as T;
      return intoOrNew(typedView(t, ring.peek(blocks[c.rank])), into.subarray(0, mineCount)) as T;
    } catch (err) {
      await ring.failOnward(c.size - 1, err);
      throw err;
    } finally {
      ring.release();
    }
  }
  // Custom ops keep their order: reduce at rank 0 in rank order, then hand out the blocks.
  const full = (await withEngine(engineFor(c, op, data), (e) => reduceBinomial(c, e, 0, 0))) as T | undefined;
  const payload = c.rank === 0 ? orError(() => l.counts.map((_, r) => encode(part(full!, l, r)))) : undefined;
  const mine = await scatterBinomial(c, 0, payload);
  return intoOrNew(decode(mine.kind, mine.bytes), into?.subarray(0, mineCount)) as T;
}

export async function gathervRun<T extends NumericArray>(c: CollContext, data: T, counts: number[], root: number, displs: number[] | undefined): Promise<T | undefined> {
  const l = layout(counts, displs, c.size, 'gatherv', c.fields());
  const mine = orError(() => checkCount(data, l.counts[c.rank]!, 'gatherv', c));
  const items = await gatherBinomial(c, root, mine);
  if (mine.kind === Kind.ERROR) throw decodeError(mine.bytes, c.fields());
  if (!items) return undefined;
  raiseItems(items, c);
  return place(items, data, l, c) as T;
}

export async function scattervRun<T extends NumericArray>(c: CollContext, data: T | undefined, counts: number[], root: number, displs: number[] | undefined): Promise<T> {
  const l = layout(counts, displs, c.size, 'scatterv', c.fields());
  const payload =
    c.rank === root
      ? orError(() => {
          if (!isTyped(data)) throw new FmiError('MPI_ERR_TYPE', 'scatterv needs a TypedArray at the root', c.fields());
          checkSpan(data, l, 'scatterv', c.fields());
          return l.counts.map((_, r) => encode(part(data, l, r)));
        })
      : undefined;
  const mine = await scatterBinomial(c, root, payload);
  return decode(mine.kind, mine.bytes) as T;
}

export async function allgathervRun<T extends NumericArray>(c: CollContext, data: T, counts: number[], displs: number[] | undefined): Promise<T> {
  const l = layout(counts, displs, c.size, 'allgatherv', c.fields());
  const items = await allgatherRing(c, orError(() => checkCount(data, l.counts[c.rank]!, 'allgatherv', c)));
  raiseItems(items, c);
  return place(items.map((it, rank) => ({ rank, ...it })), data, l, c) as T;
}

export async function alltoallvRun<T extends NumericArray>(c: CollContext, data: T, sendCounts: number[], recvCounts: number[], sdispls: number[] | undefined, rdispls: number[] | undefined): Promise<T> {
  if (!isTyped(data)) throw new FmiError('MPI_ERR_TYPE', 'alltoallv works on TypedArrays', c.fields());
  const sl = layout(sendCounts, sdispls, c.size, 'alltoallv', c.fields());
  const rl = layout(recvCounts, rdispls, c.size, 'alltoallv', c.fields());
  checkSpan(data, sl, 'alltoallv', c.fields());
  const out = await alltoallPairwise(c, sl.counts.map((_, d) => encode(part(data, sl, d))));
  return place(out.map((it, rank) => ({ rank, ...it })), data, rl, c) as T;
}
