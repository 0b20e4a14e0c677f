import type { ElemType } from '../kernels/index.js';
import { Combiner, DATATYPE_NAMES, Err, HandleBase, ORDER_C, ORDER_FORTRAN } from './abi.js';
import { MpiError } from './errors.js';

/** Which predefined ops MPI defines on a type's basic elements. */
export type OpClass = 'int' | 'float' | 'complex' | 'bool' | 'byte' | 'none' | 'quad' | 'quadComplex';

/** A (value, int) pair type, for MPI_MINLOC / MPI_MAXLOC: value first, then an int index, packed. */
export interface PairInfo {
  /** f128: wasm32's long double (IEEE binary128). */
  value: 'f32' | 'f64' | 'i32' | 'i16' | 'f128';
  valueBytes: number;
  /** The index's type when it is not an int (Fortran's MPI_2REAL, MPI_2DOUBLE_PRECISION). */
  index?: 'f32' | 'f64';
}

/**
 * A datatype as the runtime uses it: its typemap flattened into byte blocks
 * (displacement, length) for one element, in typemap order, adjacent blocks
 * merged. Immutable once built; handles point at these.
 */
export interface Datatype {
  name: string;
  /** Bytes of data in one element. */
  size: number;
  lb: number;
  ub: number;
  trueLb: number;
  trueUb: number;
  /** [disp0, len0, disp1, len1, ...] relative to the element's start. */
  blocks: readonly number[];
  /** Set when one element is a single block of `size` bytes at this displacement and extent == size. */
  dense: number | undefined;
  /** Every basic element has this numeric type (for predefined reductions). */
  elem: ElemType | undefined;
  opClass: OpClass;
  pair: PairInfo | undefined;
  /** Basic elements as run lengths: [bytes, count, bytes, count, ...] (for MPI_Get_elements). */
  sig: readonly number[];
  /**
   * Byte-order units of the packed data as run lengths [unit, count, ...]
   * for external32 (big-endian): each unit of `unit` bytes is swapped;
   * AINT_UNIT is a 4-byte MPI_Aint that external32 widens to 8,
   * WCHAR_UNIT a 4-byte wchar_t that external32 narrows to 2.
   */
  swap: readonly number[];
  align: number;
  predefined: boolean;
  committed: boolean;
  combiner: number;
  ints: readonly number[];
  aints: readonly number[];
  types: readonly number[];
}

export const extentOf = (t: Datatype): number => t.ub - t.lb;

/** The `swap` unit of an MPI_AINT (4 bytes here, 8 in external32). */
export const AINT_UNIT = -4;
/** The `swap` unit of an MPI_WCHAR (wasm32's wchar_t is 4 bytes; MPI 3.1 Table 13.2 gives 2 in external32). */
export const WCHAR_UNIT = -2;

function basic(name: string, size: number, elem: ElemType | undefined, opClass: OpClass, align = size, swap: number[] = [size, 1]): Datatype {
  return {
    name, size, lb: 0, ub: size, trueLb: 0, trueUb: size, blocks: size > 0 ? [0, size] : [], dense: 0,
    elem, opClass, pair: undefined, sig: [size, 1], swap, align: Math.min(align, 16),
    predefined: true, committed: true, combiner: Combiner.NAMED, ints: [], aints: [], types: [],
  };
}

/** A (value, int) struct type: value at 0, int at `intAt`, extent rounded to the struct's alignment `align`. */
function pairType(name: string, valueBytes: number, intAt: number, extent: number, pair: PairInfo | undefined, align = Math.max(valueBytes, 4)): Datatype {
  const blocks = intAt === valueBytes ? [0, valueBytes + 4] : [0, valueBytes, intAt, 4];
  return {
    name, size: valueBytes + 4, lb: 0, ub: extent, trueLb: 0, trueUb: intAt + 4, blocks, dense: undefined,
    elem: undefined, opClass: 'none', pair, sig: [valueBytes, 1, 4, 1], swap: [valueBytes, 1, 4, 1], align,
    predefined: true, committed: true, combiner: Combiner.NAMED, ints: [], aints: [], types: [],
  };
}

/**
 * Sizes on wasm32 (as emcc 3.1 lays them out): long and pointers are 4 bytes;
 * long double is 16 bytes aligned to 8, so struct { long double; int } takes 24.
 */
const PREDEFINED: Record<string, Datatype> = {
  MPI_CHAR: basic('MPI_CHAR', 1, 'i8', 'int'),
  MPI_SIGNED_CHAR: basic('MPI_SIGNED_CHAR', 1, 'i8', 'int'),
  MPI_UNSIGNED_CHAR: basic('MPI_UNSIGNED_CHAR', 1, 'u8', 'int'),
  MPI_BYTE: basic('MPI_BYTE', 1, 'u8', 'byte'),
  MPI_WCHAR: basic('MPI_WCHAR', 4, 'i32', 'int', 4, [WCHAR_UNIT, 1]),
  MPI_SHORT: basic('MPI_SHORT', 2, 'i16', 'int'),
  MPI_UNSIGNED_SHORT: basic('MPI_UNSIGNED_SHORT', 2, 'u16', 'int'),
  MPI_INT: basic('MPI_INT', 4, 'i32', 'int'),
  MPI_UNSIGNED: basic('MPI_UNSIGNED', 4, 'u32', 'int'),
  MPI_LONG: basic('MPI_LONG', 4, 'i32', 'int'),
  MPI_UNSIGNED_LONG: basic('MPI_UNSIGNED_LONG', 4, 'u32', 'int'),
  MPI_LONG_LONG_INT: basic('MPI_LONG_LONG_INT', 8, 'i64', 'int'),
  MPI_UNSIGNED_LONG_LONG: basic('MPI_UNSIGNED_LONG_LONG', 8, 'u64', 'int'),
  MPI_FLOAT: basic('MPI_FLOAT', 4, 'f32', 'float'),
  MPI_DOUBLE: basic('MPI_DOUBLE', 8, 'f64', 'float'),
  MPI_LONG_DOUBLE: basic('MPI_LONG_DOUBLE', 16, undefined, 'quad', 8),
  MPI_INT8_T: basic('MPI_INT8_T', 1, 'i8', 'int'),
  MPI_INT16_T: basic('MPI_INT16_T', 2, 'i16', 'int'),
  MPI_INT32_T: basic('MPI_INT32_T', 4, 'i32', 'int'),
  MPI_INT64_T: basic('MPI_INT64_T', 8, 'i64', 'int'),
  MPI_UINT8_T: basic('MPI_UINT8_T', 1, 'u8', 'int'),
  MPI_UINT16_T: basic('MPI_UINT16_T', 2, 'u16', 'int'),
  MPI_UINT32_T: basic('MPI_UINT32_T', 4, 'u32', 'int'),
  MPI_UINT64_T: basic('MPI_UINT64_T', 8, 'u64', 'int'),
  MPI_C_BOOL: basic('MPI_C_BOOL', 1, 'u8', 'bool'),
  MPI_C_FLOAT_COMPLEX: complex('MPI_C_FLOAT_COMPLEX', 4),
  MPI_C_DOUBLE_COMPLEX: complex('MPI_C_DOUBLE_COMPLEX', 8),
  MPI_C_LONG_DOUBLE_COMPLEX: complex('MPI_C_LONG_DOUBLE_COMPLEX', 16),
  MPI_AINT: basic('MPI_AINT', 4, 'i32', 'int', 4, [AINT_UNIT, 1]),
  MPI_OFFSET: basic('MPI_OFFSET', 8, 'i64', 'int'),
  MPI_COUNT: basic('MPI_COUNT', 8, 'i64', 'int'),
  MPI_PACKED: basic('MPI_PACKED', 1, 'u8', 'byte'),
  MPI_FLOAT_INT: pairType('MPI_FLOAT_INT', 4, 4, 8, { value: 'f32', valueBytes: 4 }),
  MPI_DOUBLE_INT: pairType('MPI_DOUBLE_INT', 8, 8, 16, { value: 'f64', valueBytes: 8 }),
  MPI_LONG_INT: pairType('MPI_LONG_INT', 4, 4, 8, { value: 'i32', valueBytes: 4 }),
  MPI_2INT: pairType('MPI_2INT', 4, 4, 8, { value: 'i32', valueBytes: 4 }),
  MPI_SHORT_INT: pairType('MPI_SHORT_INT', 2, 4, 8, { value: 'i16', valueBytes: 2 }),
  MPI_LONG_DOUBLE_INT: pairType('MPI_LONG_DOUBLE_INT', 16, 16, 24, { value: 'f128', valueBytes: 16 }, 8),
  MPI_CXX_BOOL: basic('MPI_CXX_BOOL', 1, 'u8', 'bool'),
  MPI_CXX_FLOAT_COMPLEX: complex('MPI_CXX_FLOAT_COMPLEX', 4),
  MPI_CXX_DOUBLE_COMPLEX: complex('MPI_CXX_DOUBLE_COMPLEX', 8),
  MPI_CXX_LONG_DOUBLE_COMPLEX: complex('MPI_CXX_LONG_DOUBLE_COMPLEX', 16),
  MPI_CHARACTER: basic('MPI_CHARACTER', 1, 'u8', 'none'),
  MPI_LOGICAL: basic('MPI_LOGICAL', 4, 'i32', 'bool'),
  MPI_INTEGER: basic('MPI_INTEGER', 4, 'i32', 'int'),
  MPI_REAL: basic('MPI_REAL', 4, 'f32', 'float'),
  MPI_DOUBLE_PRECISION: basic('MPI_DOUBLE_PRECISION', 8, 'f64', 'float'),
  MPI_COMPLEX: complex('MPI_COMPLEX', 4),
  MPI_DOUBLE_COMPLEX: complex('MPI_DOUBLE_COMPLEX', 8),
  MPI_INTEGER1: basic('MPI_INTEGER1', 1, 'i8', 'int'),
  MPI_INTEGER2: basic('MPI_INTEGER2', 2, 'i16', 'int'),
  MPI_INTEGER4: basic('MPI_INTEGER4', 4, 'i32', 'int'),
  MPI_INTEGER8: basic('MPI_INTEGER8', 8, 'i64', 'int'),
  MPI_REAL4: basic('MPI_REAL4', 4, 'f32', 'float'),
  MPI_REAL8: basic('MPI_REAL8', 8, 'f64', 'float'),
  MPI_REAL16: basic('MPI_REAL16', 16, undefined, 'quad', 8),
  MPI_COMPLEX8: complex('MPI_COMPLEX8', 4),
  MPI_COMPLEX16: complex('MPI_COMPLEX16', 8),
  MPI_COMPLEX32: complex('MPI_COMPLEX32', 16),
  MPI_2INTEGER: pairType('MPI_2INTEGER', 4, 4, 8, { value: 'i32', valueBytes: 4 }),
  MPI_2REAL: pairType('MPI_2REAL', 4, 4, 8, { value: 'f32', valueBytes: 4, index: 'f32' }),
  MPI_2DOUBLE_PRECISION: { ...pairType('MPI_2DOUBLE_PRECISION', 8, 8, 16, { value: 'f64', valueBytes: 8, index: 'f64' }), size: 16, trueUb: 16, blocks: [0, 16], sig: [8, 2], swap: [8, 2] },
};

/** A complex type of two `part`-byte reals: the kernels see float pairs; quads (16) go through complexOp. */
function complex(name: string, part: 4 | 8 | 16): Datatype {
  const elem = part === 4 ? 'f32' : part === 8 ? 'f64' : undefined;
  return basic(name, 2 * part, elem, part === 16 ? 'quadComplex' : 'complex', part, [part, 2]);
}

/** [handle, datatype] for every predefined datatype. */
export function predefinedDatatypes(): [number, Datatype][] {
  return DATATYPE_NAMES.slice(1).map((name, i) => [HandleBase.datatype + i + 1, PREDEFINED[name]!]);
}

/** One run of the new type: `count` copies of `type`, the first at byte `disp`, each `type`'s extent apart. */
export interface Run {
  disp: number;
  count: number;
  type: Datatype;
}

export interface Envelope {
  combiner: number;
  ints?: number[];
  aints?: number[];
  types: number[];
}

/** Builds a derived type from runs of old types, the way MPI defines its typemap, bounds and size. */
export function build(runs: Run[], env: Envelope, opts: { alignExtent?: boolean } = {}): Datatype {
  const blocks: number[] = [];
  const sig: number[] = [];
  const swap: number[] = [];
  let size = 0;
  let lb = Infinity;
  let ub = -Infinity;
  let trueLb = Infinity;
  let trueUb = -Infinity;
  let align = 1;
  let elem: ElemType | undefined | null = null;
  let opClass: OpClass | null = null;
  let pair: PairInfo | undefined | null = null;
  for (const { disp, count, type } of runs) {
    if (count <= 0) continue;
    const ext = extentOf(type);
    for (let i = 0; i < count; i++) {
      const at = disp + i * ext;
      const b = type.blocks;
      for (let k = 0; k < b.length; k += 2) pushBlock(blocks, at + b[k]!, b[k + 1]!);
    }
    for (let k = 0; k < type.sig.length; k += 2) pushRun(sig, type.sig[k]!, type.sig[k + 1]! * count);
    if (type.swap.length === 2) pushRun(swap, type.swap[0]!, type.swap[1]! * count);
    else for (let i = 0; i < count; i++) for (let k = 0; k < type.swap.length; k += 2) pushRun(swap, type.swap[k]!, type.swap[k + 1]!);
    size += type.size * count;
    lb = Math.min(lb, disp + type.lb, disp + (count - 1) * ext + type.lb);
    ub = Math.max(ub, disp + type.ub, disp + (count - 1) * ext + type.ub);
    trueLb = Math.min(trueLb, disp + type.trueLb, disp + (count - 1) * ext + type.trueLb);
    trueUb = Math.max(trueUb, disp + type.trueUb, disp + (count - 1) * ext + type.trueUb);
    align = Math.max(align, type.align);
    elem = elem === null ? type.elem : elem === type.elem ? elem : undefined;
    opClass = opClass === null ? type.opClass : opClass === type.opClass ? opClass : 'none';
    pair = pair === null ? type.pair : pair === type.pair ? pair : undefined;
  }
  if (lb === Infinity) lb = ub = trueLb = trueUb = 0;
  if (opts.alignExtent && ub - lb > 0) {
    const rem = (ub - lb) % align;
    if (rem !== 0) ub += align - rem;
  }
  const dense = blocks.length === 2 && blocks[1] === size && ub - lb === size && blocks[0] === lb ? blocks[0] : blocks.length === 0 && size === 0 && ub === lb ? 0 : undefined;
  return {
    name: '', size, lb, ub, trueLb, trueUb, blocks, dense,
    elem: elem ?? undefined, opClass: opClass ?? 'none', pair: pair ?? undefined, sig, swap, align,
    predefined: false, committed: false,
    combiner: env.combiner, ints: env.ints ?? [], aints: env.aints ?? [], types: env.types,
  };
}

function pushBlock(blocks: number[], disp: number, len: number): void {
  if (len === 0) return;
  const n = blocks.length;
  if (n > 0 && blocks[n - 2]! + blocks[n - 1]! === disp) blocks[n - 1] = blocks[n - 1]! + len;
  else blocks.push(disp, len);
}

function pushRun(sig: number[], bytes: number, count: number): void {
  if (count === 0) return;
  const n = sig.length;
  if (n > 0 && sig[n - 2] === bytes) sig[n - 1] = sig[n - 1]! + count;
  else sig.push(bytes, count);
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new MpiError(Err.COUNT, `${what} must be a non-negative integer, got ${n}`);
}

export function contiguous(count: number, old: Datatype, oldH: number): Datatype {
  checkCount(count, 'count');
  return build([{ disp: 0, count, type: old }], { combiner: Combiner.CONTIGUOUS, ints: [count], types: [oldH] });
}

/** vector (stride in extents of old) or hvector (stride in bytes). */
export function vector(count: number, blocklen: number, stride: number, old: Datatype, oldH: number, bytes: boolean): Datatype {
  checkCount(count, 'count');
  checkCount(blocklen, 'blocklength');
  const step = bytes ? stride : stride * extentOf(old);
  const runs = Array.from({ length: count }, (_, i) => ({ disp: i * step, count: blocklen, type: old }));
  return bytes
    ? build(runs, { combiner: Combiner.HVECTOR, ints: [count, blocklen], aints: [stride], types: [oldH] })
    : build(runs, { combiner: Combiner.VECTOR, ints: [count, blocklen, stride], types: [oldH] });
}

/** indexed (displacements in extents of old) or hindexed (in bytes). */
export function indexed(blocklens: number[], displs: number[], old: Datatype, oldH: number, bytes: boolean): Datatype {
  blocklens.forEach((b) => checkCount(b, 'blocklength'));
  const ext = extentOf(old);
  const runs = blocklens.map((count, i) => ({ disp: bytes ? displs[i]! : displs[i]! * ext, count, type: old }));
  const n = blocklens.length;
  return bytes
    ? build(runs, { combiner: Combiner.HINDEXED, ints: [n, ...blocklens], aints: displs, types: [oldH] })
    : build(runs, { combiner: Combiner.INDEXED, ints: [n, ...blocklens, ...displs], types: [oldH] });
}

export function indexedBlock(blocklen: number, displs: number[], old: Datatype, oldH: number, bytes: boolean): Datatype {
  checkCount(blocklen, 'blocklength');
  const ext = extentOf(old);
  const runs = displs.map((d) => ({ disp: bytes ? d : d * ext, count: blocklen, type: old }));
  const n = displs.length;
  return bytes
    ? build(runs, { combiner: Combiner.HINDEXED_BLOCK, ints: [n, blocklen], aints: displs, types: [oldH] })
    : build(runs, { combiner: Combiner.INDEXED_BLOCK, ints: [n, blocklen, ...displs], types: [oldH] });
}

export function struct(blocklens: number[], displs: number[], types: Datatype[], handles: number[]): Datatype {
  blocklens.forEach((b) => checkCount(b, 'blocklength'));
  const runs = blocklens.map((count, i) => ({ disp: displs[i]!, count, type: types[i]! }));
  return build(runs, { combiner: Combiner.STRUCT, ints: [blocklens.length, ...blocklens], aints: displs, types: handles }, { alignExtent: true });
}

export function resized(old: Datatype, oldH: number, lb: number, extent: number): Datatype {
  const t = build([{ disp: 0, count: 1, type: old }], { combiner: Combiner.RESIZED, aints: [lb, extent], types: [oldH] });
  t.lb = lb;
  t.ub = lb + extent;
  t.dense = t.blocks.length === 2 && t.blocks[1] === t.size && extent === t.size && t.blocks[0] === lb ? lb : undefined;
  return t;
}

export function dup(old: Datatype, oldH: number): Datatype {
  return { ...old, name: '', predefined: false, committed: old.committed, combiner: Combiner.DUP, ints: [], aints: [], types: [oldH] };
}

/** A subarray of an n-dimensional array, as one element spanning the whole array. */
export function subarray(sizes: number[], subsizes: number[], starts: number[], order: number, old: Datatype, oldH: number): Datatype {
  const n = sizes.length;
  if (order !== ORDER_C && order !== ORDER_FORTRAN) throw new MpiError(Err.ARG, `order must be MPI_ORDER_C or MPI_ORDER_FORTRAN, got ${order}`);
  for (let i = 0; i < n; i++) {
    if (!(sizes[i]! >= 1 && subsizes[i]! >= 1 && starts[i]! >= 0 && starts[i]! + subsizes[i]! <= sizes[i]!)) {
      throw new MpiError(Err.ARG, `dimension ${i}: subsize ${subsizes[i]} at start ${starts[i]} does not fit size ${sizes[i]}`);
    }
  }
  // Work in C order: the last dimension varies fastest.
  const c = order === ORDER_C ? (a: number[]) => a : (a: number[]) => [...a].reverse();
  const [sz, sub, st] = [c(sizes), c(subsizes), c(starts)];
  const ext = extentOf(old);
  const strides = new Array<number>(n);
  let s = ext;
  for (let i = n - 1; i >= 0; i--) {
    strides[i] = s;
    s *= sz[i]!;
  }
  const runs: Run[] = [];
  const idx = new Array<number>(Math.max(n - 1, 0)).fill(0);
  for (;;) {
    let disp = st[n - 1]! * strides[n - 1]!;
    for (let i = 0; i < n - 1; i++) disp += (st[i]! + idx[i]!) * strides[i]!;
    runs.push({ disp, count: sub[n - 1]!, type: old });
    let d = n - 2;
    while (d >= 0 && ++idx[d]! === sub[d]!) idx[d--] = 0;
    if (d < 0) break;
  }
  const t = build(runs, { combiner: Combiner.SUBARRAY, ints: [n, ...sizes, ...subsizes, ...starts, order], types: [oldH] });
  t.lb = 0;
  t.ub = s;
  t.dense = t.blocks.length === 2 && t.blocks[0] === 0 && t.blocks[1] === s && t.size === s ? 0 : undefined;
  return t;
}

/** Basic elements in `bytes` bytes of data of type t (MPI_Get_elements); undefined if it ends inside an element. */
export function elementsIn(t: Datatype, bytes: number): number | undefined {
  if (t.size === 0) return 0;
  const whole = Math.floor(bytes / t.size);
  let basics = 0;
  for (let k = 1; k < t.sig.length; k += 2) basics += t.sig[k]!;
  let n = whole * basics;
  let rest = bytes - whole * t.size;
  for (let k = 0; k < t.sig.length && rest > 0; k += 2) {
    const b = t.sig[k]!;
    const fit = Math.min(t.sig[k + 1]!, Math.floor(rest / b));
    n += fit;
    rest -= fit * b;
    if (fit < t.sig[k + 1]!) break;
  }
  return rest === 0 ? n : undefined;
}
