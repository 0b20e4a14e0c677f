import { bytesOf, isTyped } from '../codec.js';
import { elemTypeOf, typedArrayCtor, type NumericArray } from '../kernels/index.js';
import type { Op } from '../ops/op.js';
import type { CollContext } from './context.js';
import { allreduceRabenseifner } from './rabenseifner.js';
import { equalBlocks, RingBuffer } from './ring.js';
import { unfilled } from '../util/fresh.js';
import { TREE_MAX_BYTES } from './allreduce-tree.js';
import { TREE_MAX_RANKS } from './tree.js';

/** What allreduce's `algorithm` option may name. */
export type AllreduceAlgorithm = 'recursive-doubling' | 'rabenseifner' | 'ring';

/**
 * From this size on (TypedArray bytes per rank, predefined op, more than two
 * ranks) `'auto'` takes Rabenseifner's reduce-scatter + allgather instead of
 * recursive doubling: 2 (p - 1) / p of the buffer sent per rank instead of
 * log2(p) whole ones. Measured on 4 ranks (bench/allreduce-compare.mjs, see
 * bench/README.md "Allreduce algorithms"): recursive doubling won at 256 KiB,
 * the two tied at 1 MiB, Rabenseifner and the ring won from 2 MiB.
 */
export const RABENSEIFNER_MIN_BYTES = 1024 * 1024;
/**
 * From this size on, communicators whose size is not a power of two take the
 * ring instead. On one host both move the same bytes in all (2 (p - 1)
 * buffers) and Rabenseifner needs fewer messages; but its first 2 (p - 2^k)
 * ranks carry two more whole buffers each, while the ring loads every rank
 * and link alike, which is what counts once ranks have links of their own.
 */
export const RING_MIN_BYTES = 16 * 1024 * 1024;

/** Whether the block algorithms (ring, Rabenseifner) can run: they need a predefined op on a TypedArray. */
// `op?.`: a missing op must reach checkOpFor (a typed MPI_ERR_OP), not fail here first.
export const blockable = (op: Op, data: unknown, size: number): boolean => op?.predefined !== undefined && isTyped(data) && size > 1;

/**
 * The algorithm allreduce runs: the same answer at every rank, from what
 * every rank knows (the op, its data's size, the communicator's size and the
 * option every rank passes).
 */
export function allreduceAlgorithm(op: Op, data: unknown, size: number, asked: 'auto' | AllreduceAlgorithm = 'auto'): AllreduceAlgorithm {
  if (asked !== 'auto') return asked;
  if (!blockable(op, data, size)) return 'recursive-doubling';
  return allreduceBySize((data as NumericArray).byteLength, size);
}

/** What 'auto' takes for a TypedArray of `bytes` with a predefined op on `size` ranks (the cost model prices the same). */
export function allreduceBySize(bytes: number, size: number): AllreduceAlgorithm {
  if (size <= 2) return 'recursive-doubling';
  if (bytes >= RING_MIN_BYTES && (size & (size - 1)) !== 0) return 'ring';
  if (bytes >= RABENSEIFNER_MIN_BYTES) return 'rabenseifner';
  return 'recursive-doubling';
}

/**
 * Up to this many ranks a small allreduce runs recursive doubling, not the
 * tree: on 2 ranks that is one simultaneous exchange (both send, both fold
 * lower op higher), one message time, where the star's leaf sends and then
 * waits for the root's answer, two in a row (bench/README.md, "Pairwise
 * exchange on 2 ranks").
 */
export const PAIRWISE_MAX_RANKS = 2;

/**
 * Whether the recursive-doubling branch of an associative allreduce of
 * `bytes` (a TypedArray's; 0 for any other value) on `size` ranks runs the
 * k-nomial tree (allreduce-tree.ts) rather than recursive doubling
 * (allreduce.ts). The communicator and the cost model both ask this.
 */
export function allreduceTakesTree(bytes: number, size: number): boolean {
  return size > PAIRWISE_MAX_RANKS && size <= TREE_MAX_RANKS && bytes <= TREE_MAX_BYTES;
}

/**
 * Ring or Rabenseifner allreduce of `data` (a TypedArray; the op predefined).
 * Both end with an allgather straight into the result (`into`, else a new
 * array made at the start of the call): finished blocks are written once,
 * never copied again. A new array made at the start and filled from the
 * socket cost a rank a third of the page faults of one copied out of Wasm
 * memory at the end (bench/README.md, "Allreduce algorithms").
 */
export async function allreduceBlocks(c: CollContext, op: Op, data: NumericArray, into: NumericArray | undefined, algorithm: 'ring' | 'rabenseifner'): Promise<NumericArray> {
  const t = elemTypeOf(data)!;
  if (algorithm === 'rabenseifner') return allreduceRabenseifner(c, op.predefined!, t, data, into);
  const out = into ?? unfilled(typedArrayCtor(t), data.length);
  const ring = new RingBuffer(c, op.predefined!, t, data, equalBlocks(data.length, c.size));
  try {
    await ring.reduceScatter();
    await ring.allgatherInto(bytesOf(out));
    return out;
  } catch (err) {
    await ring.failOnward(2 * (c.size - 1), err);
    throw err;
  } finally {
    ring.release();
  }
}
