import { decode, encode, isTyped } from '../codec.js';
import { FmiError } from '../errors.js';
import type { NumericArray } from '../kernels/index.js';
import { checkOpFor, type Op } from '../ops/op.js';
import { bcastStore, hasStore, reduceFlat, writeOrFail } from '../collectives/mediated.js';
import { bcastBinomial } from '../collectives/bcast.js';
import { reduceChain } from '../collectives/reduce.js';
import { allreduceRecursiveDoubling } from '../collectives/allreduce.js';
import { allreduceTree, TREE_MAX_BYTES } from '../collectives/allreduce-tree.js';
import { TREE_MAX_RANKS } from '../collectives/tree.js';
import { allreduceAlgorithm, allreduceBlocks, blockable } from '../collectives/allreduce-choice.js';
import { engineFor, withEngine } from '../collectives/engine.js';
import type { CollContext } from '../collectives/context.js';
import { nodeReduce, nodeTakesReduce } from '../collectives/node.js';
import { intoOrNew, withInto } from './assemble.js';
import { checkAllreduceAlgorithm } from './validate.js';
import type { AllreduceOptions } from './options.js';

/**
 * Allreduce's algorithms: over the node arena (thread ranks), on storage,
 * the ring or Rabenseifner's for large TypedArrays, the tree or recursive
 * doubling, or a chain for ops that are not associative. Every rank decides
 * alike: same size, op, algorithm option and byte count.
 */
export async function allreduceDispatch(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions, into: NumericArray | undefined): Promise<unknown> {
  if (c.node && (opts.algorithm ?? 'auto') === 'auto' && (await nodeTakesReduce(c, c.node, op, data))) return nodeReduce(c, c.node, op, data as NumericArray, into, undefined);
  if (hasStore(c)) {
    // On storage: every part read at rank 0 as it lands, folded in rank order, one write for all.
    const out = await writeOrFail(c, 0, async () => {
      const r = await withEngine(engineFor(c, op, data), (e) => reduceFlat(c, e, 0));
      return bcastStore(c, 0, c.rank === 0 ? encode(r) : undefined);
    });
    return intoOrNew(decode(out.kind, out.bytes), into);
  }
  const algorithm = allreduceAlgorithm(op, data, c.size, opts.algorithm);
  if (algorithm !== 'recursive-doubling') {
    if (!blockable(op, data, c.size)) throw new FmiError('MPI_ERR_ARG', `the ${algorithm} algorithm needs a TypedArray, a predefined op and more than one rank`, c.fields());
    return allreduceBlocks(c, op, data as NumericArray, into, algorithm);
  }
  if (op.associative) {
    // Few ranks and little data: fewer messages (allreduce-tree.ts). Every rank decides alike: same size, same byte count.
    const tree = c.size <= TREE_MAX_RANKS && (!isTyped(data) || data.byteLength <= TREE_MAX_BYTES);
    return withEngine(engineFor(c, op, data, into, !tree), (e) => (tree ? allreduceTree(c, e, into) : allreduceRecursiveDoubling(c, e)));
  }
  // Not associative: one exact left-to-right chain, then everyone gets it.
  const r = await withEngine(engineFor(c, op, data), (e) => reduceChain(c, e, 0));
  const out = await bcastBinomial(c, 0, c.rank === 0 ? encode(r) : undefined);
  return intoOrNew(decode(out.kind, out.bytes), into);
}

/** The body of an intracommunicator's allreduce: checks, then `into` or a new array. */
export function allreduceRun(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions): Promise<unknown> {
  checkOpFor(op, data, { rank: c.rank, op: 'allreduce' });
  checkAllreduceAlgorithm(opts.algorithm, { rank: c.rank, op: 'allreduce' });
  if (opts.into === undefined) return allreduceDispatch(c, data, op, opts, undefined);
  return withInto(opts.into, data, c, (into) => allreduceDispatch(c, data, op, opts, into));
}
