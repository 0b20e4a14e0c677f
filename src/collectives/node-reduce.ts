import { bytesOf, isTyped } from '../codec.js';
import { FmiError } from '../errors.js';
import { elemTypeOf, reduceInto, typedArrayCtor, type ElemType, type NumericArray } from '../kernels/index.js';
import { opCode, typeCode } from '../kernels/types.js';
import type { Op } from '../ops/op.js';
import { allreduceRecursiveDoubling } from './allreduce.js';
import { allreduceAlgorithm, allreduceBlocks } from './allreduce-choice.js';
import { allreduceTree, TREE_MAX_BYTES } from './allreduce-tree.js';
import type { CollContext } from './context.js';
import { engineFor, withEngine } from './engine.js';
import type { NodeArena } from './node-arena.js';
import { FOLD_MAX_BYTES } from './node-memory.js';
import { reduceBinomial } from './reduce.js';
import { TREE_MAX_RANKS } from './tree.js';
import { checkHeaders, layoutOf, type NodeCall } from './two-level.js';

/** Whether the node arena takes this reduction: a TypedArray, and in a job of several processes an op they may split. */
export async function nodeTakesReduce(c: CollContext, nc: NodeCall, op: Op, data: unknown): Promise<boolean> {
  if (!isTyped(data) || elemTypeOf(data) === undefined) return false;
  const layout = await layoutOf(c, nc);
  return layout === undefined || (op.associative && (op.commutative || layout.contiguous));
}

/**
 * Allreduce (`root` undefined) or reduce of TypedArrays among thread ranks,
 * in the node arena: every rank copies its contribution into its slot;
 * then either every rank folds all slots into its result (small arrays, or
 * a user op: slot order, which is rank order), or every rank reduces its
 * slice of all slots into slot 0 in place with the Wasm kernels and copies
 * the result out. Floats: one order of operations, the same bits at every
 * rank. Between processes (two levels), the leaders reduce their slot 0s
 * with the direct algorithms before the others copy out.
 */
export async function nodeReduce(c: CollContext, nc: NodeCall, op: Op, data: NumericArray, into: NumericArray | undefined, root: number | undefined): Promise<NumericArray | undefined> {
  const a = nc.arena;
  const fields = nc.fields();
  const layout = await layoutOf(c, nc);
  const set = a.begin(fields);
  const bytes = data.byteLength;
  const mine = a.header(set);
  mine[0] = nc.tag | 0;
  mine[1] = bytes;
  const fits = bytes <= a.cap;
  if (fits) a.bytes(a.offset(set, a.slot), bytes).set(bytesOf(data));
  await a.sync(nc.signal, fields);
  checkHeaders(nc, set, bytes);
  if (!fits) {
    await a.grow(bytes, nc.signal, fields);
    a.bytes(a.offset(set, a.slot), bytes).set(bytesOf(data));
    await a.sync(nc.signal, fields);
  }
  const t = elemTypeOf(data)!;
  const len = data.length;
  const slotView = (s: number) => new (typedArrayCtor(t))(a.memory.buffer, a.offset(set, s), len);
  const wanted = root === undefined || root === nc.rank;
  if (layout === undefined && (op.fn !== undefined || bytes <= FOLD_MAX_BYTES)) {
    return wanted ? fold(op, slotView, a.n, into ?? new (typedArrayCtor(t))(len), fields) : undefined;
  }
  if (op.fn === undefined) reduceSlice(a, op, t, set, len);
  if (layout === undefined) await a.sync(nc.signal, fields);
  else {
    await a.syncVia(async () => {
      const v = slotView(0);
      if (op.fn !== undefined) v.set(fold(op, slotView, a.n, new (typedArrayCtor(t))(len), fields) as never);
      const lc = nc.sub(layout.leaders);
      if (root === undefined) v.set(await leadersAllreduce(lc, op, v, a) as never);
      else {
        const r = await withEngine(engineFor(lc, op, v), (e) => reduceBinomial(lc, e, layout.processOf[root]!, op.commutative ? layout.processOf[root]! : 0));
        if (r !== undefined) v.set(r as never);
      }
    }, nc.signal, fields);
  }
  if (!wanted) return undefined;
  const out = into ?? new (typedArrayCtor(t))(len);
  out.set(slotView(0) as never);
  return out;
}

/** This rank's slice of the result, in place in slot 0: slot 0 op slot 1 op ... (lower ranks left). Slices start on 64-byte lines. */
function reduceSlice(a: NodeArena, op: Op, t: ElemType, set: number, len: number): void {
  const size = typedArrayCtor(t).BYTES_PER_ELEMENT;
  const line = 64 / size;
  const per = Math.ceil(len / a.n / line) * line;
  const lo = Math.min(len, a.slot * per);
  const hi = Math.min(len, lo + per);
  if (hi <= lo) return;
  const o = opCode(op.predefined!);
  const tc = typeCode(t);
  const dst = a.offset(set, 0) + lo * size;
  for (let s = 1; s < a.n; s++) {
    if (a.kernel(o, tc, dst, a.offset(set, s) + lo * size, hi - lo) !== 0) throw new TypeError(`node arena: kernel rejected ${op.name} on ${t}`);
  }
}

/** Every slot folded into `out` in slot order (the same order, so the same bits, at every rank). */
function fold(op: Op, slot: (s: number) => NumericArray, n: number, out: NumericArray, fields: ReturnType<NodeCall['fields']>): NumericArray {
  if (op.fn === undefined) {
    out.set(slot(0) as never);
    for (let s = 1; s < n; s++) reduceInto(op.predefined!, out, slot(s));
    return out;
  }
  // A user op gets arrays of its own (it may keep or change them), never views of the arena.
  let acc: unknown = slot(0).slice();
  for (let s = 1; s < n; s++) acc = op.fn(acc, slot(s).slice());
  if (!ArrayBuffer.isView(acc) || elemTypeOf(acc) !== elemTypeOf(out) || (acc as NumericArray).length !== out.length) {
    throw new FmiError('MPI_ERR_OP', `the user op returned ${describeValue(acc)}, not an array like its operands (${out.constructor.name}(${out.length}))`, fields);
  }
  out.set(acc as never);
  return out;
}

function describeValue(v: unknown): string {
  return ArrayBuffer.isView(v) ? `${v.constructor.name}(${(v as NumericArray).length})` : typeof v;
}

/** The leaders' allreduce of their processes' partial results: what the communicator runs for the world, among one rank per process. */
async function leadersAllreduce(lc: CollContext, op: Op, v: NumericArray, a: NodeArena): Promise<unknown> {
  const into = a.scratch(v);
  const algorithm = allreduceAlgorithm(op, v, lc.size);
  if (algorithm !== 'recursive-doubling') return allreduceBlocks(lc, op, v, into, algorithm);
  const tree = lc.size <= TREE_MAX_RANKS && v.byteLength <= TREE_MAX_BYTES;
  return withEngine(engineFor(lc, op, v, into, !tree), (e) => (tree ? allreduceTree(lc, e, into) : allreduceRecursiveDoubling(lc, e)));
}
