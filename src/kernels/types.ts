// Element types and predefined ops: names, stable numeric codes, validity.

/** Numeric element types, as MPI's predefined datatypes see them. */
export type ElemType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64';

/** Typed arrays the kernels accept. Uint8ClampedArray is left out on purpose: its stores saturate, MPI's do not. */
export type NumericArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

/** MPI's predefined reduction ops (MPI_SUM ... MPI_BXOR). */
export type PredefinedOpName = 'SUM' | 'PROD' | 'MIN' | 'MAX' | 'LAND' | 'LOR' | 'LXOR' | 'BAND' | 'BOR' | 'BXOR';

// Null prototype: a name that came from untyped code ('toString') finds nothing.
function frozenTable<T extends object>(entries: T): T {
  return Object.freeze(Object.assign(Object.create(null) as T, entries));
}

/** Op codes, shared with assembly/codes.ts and the MPI ABI. Fixed. */
export const OP_CODES: Record<PredefinedOpName, number> = frozenTable({
  SUM: 0, PROD: 1, MIN: 2, MAX: 3, LAND: 4, LOR: 5, LXOR: 6, BAND: 7, BOR: 8, BXOR: 9,
});

/** Op names by code. */
export const OP_NAMES: readonly PredefinedOpName[] = Object.freeze([
  'SUM', 'PROD', 'MIN', 'MAX', 'LAND', 'LOR', 'LXOR', 'BAND', 'BOR', 'BXOR',
] as const);

/** Element types by code (index = type code, shared with assembly/codes.ts). */
export const ELEM_TYPES: readonly ElemType[] = Object.freeze([
  'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64',
] as const);

/** Type codes by name; the inverse of ELEM_TYPES. */
export const TYPE_CODES: Record<ElemType, number> = frozenTable({
  i8: 0, u8: 1, i16: 2, u16: 3, i32: 4, u32: 5, i64: 6, u64: 7, f32: 8, f64: 9,
});

/** Bytes per element by type code. */
export const ELEM_BYTES: readonly number[] = Object.freeze([1, 1, 2, 2, 4, 4, 8, 8, 4, 8]);

type Ctor = {
  new (n: number): NumericArray;
  new (buf: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CTORS: readonly Ctor[] = [
  Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array,
  BigInt64Array, BigUint64Array, Float32Array, Float64Array,
];

/** The typed-array constructor holding elements of type t. */
export function typedArrayCtor(t: ElemType): Ctor {
  const c = CTORS[TYPE_CODES[t]];
  if (c === undefined) throw new TypeError(`unknown element type ${String(t)}`);
  return c;
}

// Symbol.toStringTag of a typed array names its class and works across realms
// (worker threads, vm contexts) where instanceof does not. A Buffer reports
// 'Uint8Array'; Uint8ClampedArray and DataView are simply absent.
const BY_TAG: Readonly<Record<string, ElemType | undefined>> = frozenTable({
  Int8Array: 'i8', Uint8Array: 'u8', Int16Array: 'i16', Uint16Array: 'u16',
  Int32Array: 'i32', Uint32Array: 'u32', BigInt64Array: 'i64', BigUint64Array: 'u64',
  Float32Array: 'f32', Float64Array: 'f64',
} as Record<string, ElemType | undefined>);

/** Element type of a typed array; Buffer counts as u8. Uint8ClampedArray, DataView and anything else give undefined. */
export function elemTypeOf(a: ArrayBufferView): ElemType | undefined {
  const tag = (a as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  return typeof tag === 'string' ? BY_TAG[tag] : undefined;
}

/**
 * Whether MPI defines op on t: SUM/PROD/MIN/MAX on every type, logical and
 * bitwise ops on integer types only.
 */
export function supports(op: PredefinedOpName, t: ElemType): boolean {
  const o = OP_CODES[op];
  const c = TYPE_CODES[t];
  if (o === undefined || c === undefined) return false;
  return o <= 3 || c <= 7;
}
