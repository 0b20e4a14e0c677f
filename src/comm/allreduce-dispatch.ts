import { decode, encode, isTyped } from '../codec.js';
import { FmiError } from '../errors.js';
import type { NumericArray } from '../kernels/index.js';
import { checkOpFor, type Op } from '../ops/op.js';
import { bcastStore, hasStore, reduceFlat, writeOrFail } from '../collectives/mediated.js';
import { bcastBinomial } from '../collectives/bcast.js';
import { reduceChain } from '../collectives/reduce.js';
import { allreduceRecursiveDoubling } from '../collectives/allreduce.js';
import { allreduceTree } from '../collectives/allreduce-tree.js';
import { allreduceAlgorithm, allreduceBlocks, allreduceTakesTree, blockable } from '../collectives/allreduce-choice.js';
import { engineFor, withEngine } from '../collectives/engine.js';
import type { CollContext } from '../collectives/context.js';
import { nodeReduce, nodeTakesReduce } from '../collectives/node.js';
import { checkInto, intoOrNew } from './assemble.js';
import { checkAllreduceAlgorithm } from './validate.js';
import type { AllreduceOptions } from './options.js';

/**
 * Allreduce's algorithms: over the node arena (thread ranks), on storage,
 * the ring or Rabenseifner's for large TypedArrays, the tree or recursive
 * doubling, or a chain for ops that are not associative. Every rank decides
 * alike: same size, op, algorithm option and byte count.
 */
export function allreduceDispatch(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions, into: NumericArray | undefined): Promise<unknown> {
  if (c.node && (opts.algorithm ?? 'auto') === 'auto') return allreduceOnNode(c, data, op, opts, into);
  return allreduceMessages(c, data, op, opts, into);
}

/** Thread ranks: over the node arena when it takes the call, else by messages. */
async function allreduceOnNode(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions, into: NumericArray | undefined): Promise<unknown> {
  if (await nodeTakesReduce(c, c.node!, op, data)) return nodeReduce(c, c.node!, op, data as NumericArray, into, undefined);
  return allreduceMessages(c, data, op, opts, into);
}

/** Not async where it need not be: with many ranks on few CPUs every frame and promise of a small call counts (bench/README.md, "Issue 11"). */
function allreduceMessages(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions, into: NumericArray | undefined): Promise<unknown> {
  if (hasStore(c)) return allreduceStore(c, data, op, into);
  const algorithm = allreduceAlgorithm(op, data, c.size, opts.algorithm);
  if (algorithm !== 'recursive-doubling') {
    if (!blockable(op, data, c.size)) return Promise.reject(new FmiError('MPI_ERR_ARG', `the ${algorithm} algorithm needs a TypedArray, a predefined op and more than one rank`, c.fields()));
    return allreduceBlocks(c, op, data as NumericArray, into, algorithm);
  }
  if (op.associative) {
    // Little data on more than 2 ranks: fewer messages (allreduce-tree.ts). Every rank decides alike: same size, same byte count.
    const tree = allreduceTakesTree(isTyped(data) ? data.byteLength : 0, c.size);
    return withEngine(engineFor(c, op, data, into, !tree), (e) => (tree ? allreduceTree(c, e, into) : allreduceRecursiveDoubling(c, e)));
  }
  return allreduceChain(c, data, op, into);
}

/** On storage: every part read at rank 0 as it lands, folded in rank order, one write for all. */
async function allreduceStore(c: CollContext & Required<Pick<CollContext, 'store'>>, data: unknown, op: Op, into: NumericArray | undefined): Promise<unknown> {
  const out = await writeOrFail(c, 0, async () => {
    const r = await withEngine(engineFor(c, op, data), (e) => reduceFlat(c, e, 0));
    return bcastStore(c, 0, c.rank === 0 ? encode(r) : undefined);
  });
  return intoOrNew(decode(out.kind, out.bytes), into);
}

/** Not associative: one exact left-to-right chain, then everyone gets it. */
async function allreduceChain(c: CollContext, data: unknown, op: Op, into: NumericArray | undefined): Promise<unknown> {
  const r = await withEngine(engineFor(c, op, data), (e) => reduceChain(c, e, 0));
  const out = await bcastBinomial(c, 0, c.rank === 0 ? encode(r) : undefined);
  return intoOrNew(decode(out.kind, out.bytes), into);
}

/** The body of an intracommunicator's allreduce: checks, then `into` or a new array. */
export function allreduceRun(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions): Promise<unknown> {
  checkOpFor(op, data, { rank: c.rank, op: 'allreduce' });
  checkAllreduceAlgorithm(opts.algorithm, { rank: c.rank, op: 'allreduce' });
  if (opts.into == null) return allreduceDispatch(c, data, op, opts, undefined);
  // As withInto (assemble.ts), one frame fewer: a bad `into` fails this rank after the call, not the others.
  let into: NumericArray | undefined;
  try {
    into = checkInto(opts.into, data, c);
  } catch (bad) {
    return allreduceDispatch(c, data, op, opts, undefined).then(() => Promise.reject(bad));
  }
  return allreduceDispatch(c, data, op, opts, into);
}
