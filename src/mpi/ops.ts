import { Op } from '../ops/op.js';
import type { ElemType, PredefinedOpName } from '../kernels/index.js';
import { Err, HandleBase, OP_NAMES } from './abi.js';
import { extentOf, type Datatype, type OpClass, type PairInfo } from './datatypes.js';
import { MpiError } from './errors.js';
import { jsOpFor } from './js-ops.js';
import { quadKey } from './quad.js';
import type { ProgramHost } from './memory.js';

/** An MPI_Op: predefined (run by fmi's kernels), MINLOC/MAXLOC, or a C function of the program. */
export interface MpiOp {
  name: string;
  kind: 'predefined' | 'loc' | 'user' | 'rma';
  predefined?: PredefinedOpName;
  max?: boolean;
  /** Table index of the MPI_User_function. */
  fn?: number;
  commute: boolean;
}

const CLASSES: Record<PredefinedOpName, readonly OpClass[]> = {
  MAX: ['int', 'float'],
  MIN: ['int', 'float'],
  SUM: ['int', 'float', 'complex'],
  PROD: ['int', 'float'],
  LAND: ['int', 'bool'],
  LOR: ['int', 'bool'],
  LXOR: ['int', 'bool'],
  BAND: ['int', 'byte'],
  BOR: ['int', 'byte'],
  BXOR: ['int', 'byte'],
};

export function predefinedOps(): [number, MpiOp][] {
  return OP_NAMES.slice(1).map((name, i): [number, MpiOp] => {
    const short = name.slice(4);
    const h = HandleBase.op + i + 1;
    if (short === 'MINLOC' || short === 'MAXLOC') return [h, { name, kind: 'loc', max: short === 'MAXLOC', commute: true }];
    if (short === 'REPLACE' || short === 'NO_OP') return [h, { name, kind: 'rma', commute: false }];
    return [h, { name, kind: 'predefined', predefined: short as PredefinedOpName, commute: true }];
  });
}

/** How a reduction moves its data and which fmi Op combines it. */
export type Plan =
  /** Packed basic elements viewed as a TypedArray of `elem`. */
  | { kind: 'typed'; elem: ElemType; op: Op }
  /** Packed bytes (MINLOC/MAXLOC pairs). */
  | { kind: 'bytes'; op: Op }
  /** Element i at byte i * extent, as laid out in memory (user functions see the program's layout). */
  | { kind: 'span'; op: Op };

const FMI_OPS: Record<PredefinedOpName, Op> = {
  SUM: Op.SUM, PROD: Op.PROD, MIN: Op.MIN, MAX: Op.MAX, LAND: Op.LAND, LOR: Op.LOR, LXOR: Op.LXOR,
  BAND: Op.BAND, BOR: Op.BOR, BXOR: Op.BXOR,
};

/**
 * Plans of predefined and MINLOC/MAXLOC ops by datatype and op object: they
 * depend on nothing else, and a reduction asks for one on every call (a new
 * Op per call would also be a new op to every cache behind it).
 */
const plans = new WeakMap<Datatype, Map<MpiOp, Plan>>();

/** The plan for reducing elements of t with op; throws MPI_ERR_OP where MPI (or fmi) does not define it. */
export function planFor(op: MpiOp, t: Datatype, th: number, host: ProgramHost): Plan {
  if (op.kind === 'user') return makePlan(op, t, th, host);
  let byOp = plans.get(t);
  let plan = byOp?.get(op);
  if (plan === undefined) {
    plan = makePlan(op, t, th, host);
    if (!byOp) plans.set(t, (byOp = new Map()));
    byOp.set(op, plan);
  }
  return plan;
}

function makePlan(op: MpiOp, t: Datatype, th: number, host: ProgramHost): Plan {
  if (op.kind === 'predefined') {
    const name = op.predefined!;
    const js = jsOpFor(name, t);
    if (js) return { kind: 'bytes', op: js };
    if (t.elem === undefined || !CLASSES[name].includes(t.opClass)) {
      throw new MpiError(Err.OP, `${op.name} is not defined on ${t.name || 'this derived datatype'}`);
    }
    return { kind: 'typed', elem: t.elem, op: FMI_OPS[name] };
  }
  if (op.kind === 'loc') {
    if (!t.pair) throw new MpiError(Err.OP, `${op.name} needs a (value, index) pair type such as MPI_DOUBLE_INT, got ${t.name || 'a derived datatype'}`);
    return { kind: 'bytes', op: Op.create(locFn(t.pair, op.max!), { commutative: true }) };
  }
  if (op.kind === 'user') {
    if (extentOf(t) < t.trueUb - t.trueLb || extentOf(t) <= 0) {
      throw new MpiError(Err.TYPE, 'user-defined ops need a datatype whose extent covers its data');
    }
    return { kind: 'span', op: Op.create(userFn(host, op.fn!, th, t), { commutative: op.commute }) };
  }
  throw new MpiError(Err.OP, `${op.name} is only for one-sided accumulate operations`);
}

/** MINLOC/MAXLOC over packed (value, index) pairs: the better value, and the lower index on ties. Changes `a`. */
function locFn(pair: PairInfo, max: boolean): (a: Uint8Array, b: Uint8Array) => Uint8Array {
  const vb = pair.valueBytes;
  const ib = pair.index === 'f64' ? 8 : 4;
  const stride = vb + ib;
  const read = (dv: DataView, at: number): number | bigint => {
    switch (pair.value) {
      case 'f128': return quadKey(dv, at);
      case 'f64': return dv.getFloat64(at, true);
      case 'f32': return dv.getFloat32(at, true);
      case 'i32': return dv.getInt32(at, true);
      default: return dv.getInt16(at, true);
    }
  };
  const index = (dv: DataView, at: number): number =>
    pair.index === 'f64' ? dv.getFloat64(at, true) : pair.index === 'f32' ? dv.getFloat32(at, true) : dv.getInt32(at, true);
  return (a, b) => {
    const da = new DataView(a.buffer, a.byteOffset, a.byteLength);
    const db = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let at = 0; at + stride <= a.byteLength; at += stride) {
      const x = read(da, at);
      const y = read(db, at);
      const takeB = max ? y > x : y < x;
      if (takeB || (x === y && index(db, at + vb) < index(da, at + vb))) a.set(b.subarray(at + (takeB ? 0 : vb), at + stride), at + (takeB ? 0 : vb));
    }
    return a;
  };
}

/**
 * Runs the program's MPI_User_function on two partial results: copies them
 * into its memory, calls fn(invec = a, inoutvec = b, &len, &datatype) — a
 * holds lower ranks' data, so b becomes a op b — and copies b back out.
 * Runs while the program is suspended by Asyncify, which is safe as long as
 * the function does not call MPI (MPI forbids that anyway).
 */
function userFn(host: ProgramHost, fp: number, th: number, t: Datatype): (a: Uint8Array, b: Uint8Array) => Uint8Array {
  const ext = extentOf(t);
  const lead = ((t.trueLb % 16) + 16) % 16;
  return (a, b) => {
    const n = a.byteLength;
    const slot = n + 32;
    const raw = host.malloc(2 * slot + 16);
    if (raw === 0) throw new MpiError(Err.NO_MEM, 'out of memory for a user-defined reduction');
    try {
      const base = (raw + 15) & ~15;
      const pa = base + lead;
      const pb = base + slot + lead;
      const ints = base + 2 * slot;
      let heap = host.heap();
      heap.set(a, pa);
      heap.set(b, pb);
      const dv = new DataView(heap.buffer);
      dv.setInt32(ints, n / ext, true);
      dv.setInt32(ints + 4, th, true);
      host.call(fp, pa - t.trueLb, pb - t.trueLb, ints, ints + 4);
      heap = host.heap();
      return heap.slice(pb, pb + n);
    } finally {
      host.free(raw);
    }
  };
}
