import { bytesOf, decode, decodeError, encode, isTyped, Kind, type Encoded } from '../codec.js';
import { FmiError } from '../errors.js';
import type { NumericArray } from '../kernels/index.js';
import { checkOpFor, type Op } from '../ops/op.js';
import { barrierStore, bcastStore, gatherFlat, hasStore, reduceFlat } from '../collectives/mediated.js';
import { bcastBinomial, intoFits } from '../collectives/bcast.js';
import { gatherBinomial } from '../collectives/gather.js';
import { scatterBinomial } from '../collectives/scatter.js';
import { reduceBinomial, reduceChain } from '../collectives/reduce.js';
import { CHAIN_MAX_RANKS, exscanChain, exscanRecursiveDoubling, scanChain, scanRecursiveDoubling } from '../collectives/scan.js';
import { barrierDissemination } from '../collectives/barrier.js';
import { barrierTree } from '../collectives/barrier-tree.js';
import { barrierTakesTree } from '../collectives/barrier-choice.js';
import { allgatherRing } from '../collectives/allgather.js';
import { engineFor, withEngine } from '../collectives/engine.js';
import type { CollContext } from '../collectives/context.js';
import { nodeBarrier, nodeBcast, nodeReduce, nodeTakesReduce } from '../collectives/node.js';
import { concat, orError, raiseItems, splitForRanks, withInto } from './assemble.js';

/**
 * The bodies of an intracommunicator's barrier, bcast, gather, scatter,
 * reduce, scan, exscan and allgather: what each runs once the communicator
 * has queued it and bound it to a channel (collective-runner.ts). Allreduce:
 * allreduce-dispatch.ts; the vector ones: vector-collectives.ts.
 */

/** At the root, bad input still reaches the peers (as an error), so they fail instead of waiting. */
const encodeOrError = (data: unknown, c: CollContext): Encoded => orError(() => encode(data), c);

export function barrierRun(c: CollContext): Promise<void> {
  return c.node ? nodeBarrier(c, c.node) : hasStore(c) ? barrierStore(c) : barrierTakesTree(c.size) ? barrierTree(c) : barrierDissemination(c);
}

export async function bcastRun<T>(c: CollContext, data: T | undefined, root: number, into: NumericArray | undefined): Promise<T> {
  const msg = c.rank === root ? encodeOrError(data, c) : undefined;
  const target = isTyped(into) ? { kind: encode(into).kind, bytes: bytesOf(into) } : undefined;
  const out = c.node ? await nodeBcast(c, c.node, root, msg, target) : hasStore(c) ? await bcastStore(c, root, msg) : await bcastBinomial(c, root, msg, { into: target });
  if (into === undefined) return decode(out.kind, out.bytes) as T;
  if (!intoFits(target, out.kind, out.bytes.byteLength)) {
    throw new FmiError('MPI_ERR_ARG', '`into` must be a TypedArray of the type and length of the root\'s data', c.fields());
  }
  const mine = bytesOf(into);
  if (out.bytes.buffer !== mine.buffer || out.bytes.byteOffset !== mine.byteOffset) mine.set(out.bytes);
  return into as T;
}

export async function gatherRun<T>(c: CollContext, data: T, root: number): Promise<T[] | T | undefined> {
  const mine = encodeOrError(data, c);
  const items = hasStore(c) ? await gatherFlat(c, root, mine) : await gatherBinomial(c, root, mine);
  if (mine.kind === Kind.ERROR) throw decodeError(mine.bytes, c.fields());
  if (!items) return undefined;
  const failed = items.find((it) => it.kind === Kind.ERROR);
  if (failed) {
    // A mismatch a rank found on the way up is the call's error; any other is its contribution's.
    const err = decodeError(failed.bytes, { ...c.fields(failed.rank) });
    throw err.code === 'FMI_MISMATCH' ? err : new FmiError('MPI_ERR_ARG', `rank ${failed.rank} could not contribute`, c.fields(failed.rank));
  }
  return (isTyped(data) ? concat(items, data, c) : items.map((it) => decode(it.kind, it.bytes))) as T[] | T;
}

export async function scatterRun<T>(c: CollContext, items: readonly T[] | NumericArray | undefined, root: number): Promise<T> {
  const payload = c.rank === root ? orError(() => splitForRanks(items, c)) : undefined;
  const mine = await scatterBinomial(c, root, payload);
  return decode(mine.kind, mine.bytes) as T;
}

/** `into` counts at the root only. */
export async function reduceRun<T>(c: CollContext, data: T, op: Op, root: number, into: NumericArray | undefined): Promise<T | undefined> {
  checkOpFor(op, data, { rank: c.rank, op: 'reduce' });
  return (await withInto(c.rank === root ? into : undefined, data, c, async (into) =>
    c.node && (await nodeTakesReduce(c, c.node, op, data)) ? nodeReduce(c, c.node, op, data as NumericArray, into, root) : withEngine(engineFor(c, op, data, into), (e) => {
      if (hasStore(c)) return reduceFlat(c, e, root);
      if (!op.associative) return reduceChain(c, e, root);
      return reduceBinomial(c, e, root, op.commutative ? root : 0);
    }),
  )) as T | undefined;
}

/** Inclusive (scan) or exclusive (exscan) prefix. */
export async function scanRun<T>(c: CollContext, data: T, op: Op, into: NumericArray | undefined, exclusive: boolean): Promise<T | undefined> {
  checkOpFor(op, data, { rank: c.rank, op: c.op });
  const many = op.associative && c.size > CHAIN_MAX_RANKS;
  const scan = exclusive ? (many ? exscanRecursiveDoubling : exscanChain) : many ? scanRecursiveDoubling : scanChain;
  return (await withInto(into, data, c, (into) => withEngine(engineFor(c, op, data, into), (e) => scan(c, e)))) as T | undefined;
}

export async function allgatherRun<T>(c: CollContext, data: T): Promise<T[] | NumericArray> {
  const items = await allgatherRing(c, encodeOrError(data, c));
  raiseItems(items, c);
  if (isTyped(data)) return concat(items.map((it, rank) => ({ rank, ...it })), data, c);
  return items.map((it) => decode(it.kind, it.bytes) as T);
}
