import { copyBytes } from '../channels/shm/copy-bytes.js';
import { bytesOf, isTyped } from '../codec.js';
import { FmiError } from '../errors.js';
import { elemTypeOf, reduceInto, typedArrayCtor, type ElemType, type NumericArray } from '../kernels/index.js';
import { opCode, typeCode } from '../kernels/types.js';
import type { Op } from '../ops/op.js';
import { allreduceRecursiveDoubling } from './allreduce.js';
import { allreduceAlgorithm, allreduceBlocks, allreduceTakesTree } from './allreduce-choice.js';
import { allreduceTree } from './allreduce-tree.js';
import type { CollContext } from './context.js';
import { engineFor, withEngine } from './engine.js';
import type { NodeArena } from './node-arena.js';
import { FOLD_MAX_BYTES } from './node-memory.js';
import { reduceBinomial } from './reduce.js';
import { checkHeaders, layoutOf, type NodeCall } from './two-level.js';

/** Whether the node arena takes this reduction: a TypedArray, and in a job of several processes an op they may split. */
export async function nodeTakesReduce(c: CollContext, nc: NodeCall, op: Op, data: unknown): Promise<boolean> {
  if (!isTyped(data) || elemTypeOf(data) === undefined) return false;
  const layout = await layoutOf(c, nc);
  return layout === undefined || (op.associative && (op.commutative || layout.contiguous));
}

/**
 * Allreduce (`root` undefined) or reduce of TypedArrays among thread ranks,
 * in the node arena: every rank copies its contribution into its slot
 * (unless it lies in the arena already: sharedArray()); then either every
 * rank folds all contributions into its result (small arrays, or a user
 * op: slot order, which is rank order), or every rank reduces its slice of
 * all contributions with the Wasm kernels: into slot 0 in place, from
 * where each rank copies the result out (Wasm memory.copy into a shared
 * array); or, where every result goes to an `into` in the arena apart from
 * every input (writesOut), straight into those, with no copy out. Floats:
 * one order of operations, the same bits at every rank. Between processes
 * (two levels), the leaders reduce their slot 0s with the direct
 * algorithms before the others copy out.
 */
export async function nodeReduce(c: CollContext, nc: NodeCall, op: Op, data: NumericArray, into: NumericArray | undefined, root: number | undefined): Promise<NumericArray | undefined> {
  const a = nc.arena;
  const fields = nc.fields();
  const layout = await layoutOf(c, nc);
  const set = a.begin(fields);
  const bytes = data.byteLength;
  // Every rank folds everything itself, and returns without waiting for the others: they must read copies then.
  const folds = layout === undefined && (op.fn !== undefined || bytes <= FOLD_MAX_BYTES);
  const at = folds ? -1 : a.addressOf(data);
  const mine = a.header(set);
  mine[0] = nc.tag | 0;
  mine[1] = bytes;
  mine[IN_PLACE] = at;
  // Where this rank's result may go straight from the slices' reduction: its `into`, when that lies in the arena.
  const wanted = root === undefined || root === nc.rank;
  mine[OUT] = !folds && layout === undefined && wanted && into !== undefined ? a.addressOf(into) : -1;
  const fits = at >= 0 || bytes <= a.cap;
  if (fits) contribute(a, set, data);
  await a.sync(nc.signal, fields);
  checkHeaders(nc, set, bytes);
  const direct = folds ? undefined : writesOut(a, set, bytes, root);
  if (bytes > a.cap && !(direct && inPlace(a, set))) {
    // Every rank sees the same cap and bytes here, so all take this branch (slot 0 holds the result).
    await a.grow(bytes, nc.signal, fields);
    if (!fits) contribute(a, set, data);
    await a.sync(nc.signal, fields);
  }
  const t = elemTypeOf(data)!;
  const len = data.length;
  const Ctor = typedArrayCtor(t);
  const input = (s: number) => new Ctor(a.memory.buffer, inputOffset(a, set, s), len);
  const result = () => new Ctor(a.memory.buffer, a.offset(set, 0), len);
  if (folds) return wanted ? fold(op, input, a.n, into ?? new Ctor(len), fields) : undefined;
  if (op.fn === undefined) reduceSlice(a, op, t, set, len, direct ?? [a.offset(set, 0)]);
  if (layout === undefined) await a.sync(nc.signal, fields);
  else {
    await a.syncVia(async () => {
      const v = result();
      if (op.fn !== undefined) setInto(v, fold(op, input, a.n, new Ctor(len), fields));
      const lc = nc.sub(layout.leaders);
      if (root === undefined) setInto(v, await leadersAllreduce(lc, op, v, a));
      else {
        const r = await withEngine(engineFor(lc, op, v), (e) => reduceBinomial(lc, e, layout.processOf[root]!, op.commutative ? layout.processOf[root]! : 0));
        if (r !== undefined) setInto(v, r);
      }
    }, nc.signal, fields);
  }
  if (!wanted) return undefined;
  if (direct) return into;
  const out = into ?? new Ctor(len);
  const to = a.addressOf(out);
  if (to >= 0) a.copy(to, a.offset(set, 0), bytes);
  else copyBytes(bytesOf(out), 0, a.bytes(a.offset(set, 0), bytes));
  return out;
}

/** The leader's result `r` (a private array like `v`, or `v` itself) into `v` in the arena: copyBytes when it is an array of the same type. */
function setInto(v: NumericArray, r: unknown): void {
  if (r !== v && ArrayBuffer.isView(r) && r.constructor === v.constructor && r.byteLength === v.byteLength) copyBytes(bytesOf(v), 0, bytesOf(r));
  else v.set(r as never);
}

/** Header word: where a rank's contribution lies in the arena when it is a shared array, else -1 (in its slot). */
const IN_PLACE = 2;
/** Header word: where a rank's result goes when its `into` lies in the arena (one level, a predefined op), else -1. */
const OUT = 3;

/** This rank's contribution into its slot, unless it lies in the arena already. */
function contribute(a: NodeArena, set: number, data: NumericArray): void {
  const to = a.offset(set, a.slot);
  const from = a.header(set)[IN_PLACE]!;
  if (from >= 0) return;
  const src = a.addressOf(data);
  if (src >= 0) a.copy(to, src, data.byteLength);
  else copyBytes(a.bytes(to, data.byteLength), 0, bytesOf(data));
}

/**
 * Where the slices' reduction writes the results when it may write them
 * straight into the ranks' `into`s (OUT), in slot order: every rank that
 * wants one has it in the arena, and no such range overlaps a contribution
 * that lies there or another result (a rank writes its slice of every
 * result while the others still read theirs of every contribution; the
 * slots never overlap the ranks' arrays). Else undefined. The same answer
 * at every rank: it reads only the headers.
 */
function writesOut(a: NodeArena, set: number, bytes: number, root: number | undefined): number[] | undefined {
  const targets: number[] = [];
  const inputs: number[] = [];
  for (let s = 0; s < a.n; s++) {
    const h = a.header(set, s);
    if (h[OUT]! >= 0) targets.push(h[OUT]!);
    else if (root === undefined || a.ranks[s] === root) return undefined;
    if (h[IN_PLACE]! >= 0) inputs.push(h[IN_PLACE]!);
  }
  const apart = (x: number, y: number) => x + bytes <= y || y + bytes <= x;
  for (let i = 0; i < targets.length; i++) {
    for (let j = i + 1; j < targets.length; j++) if (!apart(targets[i]!, targets[j]!)) return undefined;
    for (const x of inputs) if (!apart(targets[i]!, x)) return undefined;
  }
  return targets.length > 0 ? targets : undefined;
}

/** Whether every contribution lies in the arena already: the slots are not needed. */
function inPlace(a: NodeArena, set: number): boolean {
  for (let s = 0; s < a.n; s++) if (a.header(set, s)[IN_PLACE]! < 0) return false;
  return true;
}

function inputOffset(a: NodeArena, set: number, s: number): number {
  const at = a.header(set, s)[IN_PLACE]!;
  return at >= 0 ? at : a.offset(set, s);
}

/**
 * This rank's slice of the result, into `targets[0]` (slot 0, or the first
 * `into` of writesOut), then copied to the other targets: rank 0's op rank
 * 1's op ... (lower ranks left), three contributions per pass over the slice
 * (the first pass reads contributions 0 to 3, and writes where a copy of 0
 * went: one pass for 4 ranks), in the order of one at a time: the same bits. Slices start on
 * 64-byte lines. Contributions that lie in the arena are read where they are.
 */
function reduceSlice(a: NodeArena, op: Op, t: ElemType, set: number, len: number, targets: readonly number[]): void {
  const size = typedArrayCtor(t).BYTES_PER_ELEMENT;
  const line = 64 / size;
  const per = Math.ceil(len / a.n / line) * line;
  const lo = Math.min(len, a.slot * per);
  const hi = Math.min(len, lo + per);
  if (hi <= lo) return;
  const o = opCode(op.predefined!);
  const tc = typeCode(t);
  const dst = targets[0]! + lo * size;
  const at = (s: number) => (s < a.n ? inputOffset(a, set, s) + lo * size : 0);
  if (a.n === 1) {
    if (at(0) !== dst) a.copy(dst, at(0), (hi - lo) * size);
  } else {
    // Operand 0 lies at dst, or apart from dst and every other operand: fold may read it there and write dst.
    for (let s = 1, from = at(0); s < a.n; s += 3, from = dst) {
      if (a.fold(o, tc, dst, from, at(s), at(s + 1), at(s + 2), hi - lo) !== 0) throw new TypeError(`node arena: kernel rejected ${op.name} on ${t}`);
    }
  }
  for (let i = 1; i < targets.length; i++) a.copy(targets[i]! + lo * size, dst, (hi - lo) * size);
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
  const tree = allreduceTakesTree(v.byteLength, lc.size);
  return withEngine(engineFor(lc, op, v, into, !tree), (e) => (tree ? allreduceTree(lc, e, into) : allreduceRecursiveDoubling(lc, e)));
}
