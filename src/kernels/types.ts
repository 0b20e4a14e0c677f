// Element types and predefined ops: names, stable numeric codes, validity.

/** Numeric element types, as MPI's predefined datatypes see them. */
export type ElemType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64';

/** Typed arrays the kernels accept. Uint8ClampedArray is left out on purpose: its stores saturate, MPI's do not. */
export type NumericArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

/** MPI's predefined reduction ops (MPI_SUM ... MPI_BXOR). */
export type PredefinedOpName = 'SUM' | 'PROD' | 'MIN' | 'MAX' | 'LAND' | 'LOR' | 'LXOR' | 'BAND' | 'BOR' | 'BXOR';

/** Op codes, shared with assembly/codes.ts and the MPI ABI. Fixed. */
export const OP_CODES: Record<PredefinedOpName, number> = Object.freeze({
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
export const TYPE_CODES: Record<ElemType, number> = Object.freeze({
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
  const c = CTORS[typeCode(t)];
  if (c === undefined) throw new TypeError(`unknown element type ${String(t)}`);
  return c;
}

// The hot paths look names up with switches, not the tables above: the
// strings are internalized, so each case is a pointer compare, while a keyed
// load with a varying key goes through V8's megamorphic stub cache.

/** Op code of a name, or -1 (also for names from untyped code such as 'toString'). */
export function opCode(op: string): number {
  switch (op) {
    case 'SUM': return 0;
    case 'PROD': return 1;
    case 'MIN': return 2;
    case 'MAX': return 3;
    case 'LAND': return 4;
    case 'LOR': return 5;
    case 'LXOR': return 6;
    case 'BAND': return 7;
    case 'BOR': return 8;
    case 'BXOR': return 9;
    default: return -1;
  }
}

/** Type code of a name, or -1. */
export function typeCode(t: string): number {
  switch (t) {
    case 'i8': return 0;
    case 'u8': return 1;
    case 'i16': return 2;
    case 'u16': return 3;
    case 'i32': return 4;
    case 'u32': return 5;
    case 'i64': return 6;
    case 'u64': return 7;
    case 'f32': return 8;
    case 'f64': return 9;
    default: return -1;
  }
}

// %TypedArray%.prototype's own getters, called directly. Property reads like
// `a.buffer` on arrays of many kinds go megamorphic in V8 and are not
// inlined: ~10 ns each. The intrinsic getters cost the same for every kind,
// cannot be shadowed by a subclass, and read internal slots, so they work on
// typed arrays from other realms too.
const TYPED_ARRAY_PROTO = Object.getPrototypeOf(Int8Array.prototype) as object;
/**
 * A %TypedArray%.prototype getter, immune to subclasses and patched
 * prototypes. Hot code should keep its own copy in a module-level const:
 * TurboFan inlines `getter.call(x)` through a const of the calling module,
 * not through an import (~3 ns per call).
 */
export function intrinsicGetter<R>(key: PropertyKey): (this: unknown) => R {
  const get = Object.getOwnPropertyDescriptor(TYPED_ARRAY_PROTO, key)?.get;
  if (get === undefined) throw new Error(`no %TypedArray%.prototype getter ${String(key)}`);
  return get as (this: unknown) => R;
}
/** Class name of a typed array, undefined for anything else (DataView, plain objects). */
export const tagOf = intrinsicGetter<string | undefined>(Symbol.toStringTag);
/** Element count; only for values tagOf recognised. */
export const lengthOf = intrinsicGetter<number>('length');
/** Underlying buffer; only for values tagOf recognised. */
export const bufferOf = intrinsicGetter<ArrayBufferLike>('buffer');
/** Byte offset into the buffer; only for values tagOf recognised. */
export const byteOffsetOf = intrinsicGetter<number>('byteOffset');

/**
 * Type code of a typed array, or -1. A Buffer reports 'Uint8Array';
 * Uint8ClampedArray, DataView and non-views are absent.
 */
export function typeCodeOf(a: ArrayBufferView): number {
  return typeCodeOfTag(tagOf.call(a));
}

/** Type code of a typed array from its tag (see tagOf), or -1. */
export function typeCodeOfTag(tag: string | undefined): number {
  switch (tag) {
    case 'Int8Array': return 0;
    case 'Uint8Array': return 1;
    case 'Int16Array': return 2;
    case 'Uint16Array': return 3;
    case 'Int32Array': return 4;
    case 'Uint32Array': return 5;
    case 'BigInt64Array': return 6;
    case 'BigUint64Array': return 7;
    case 'Float32Array': return 8;
    case 'Float64Array': return 9;
    default: return -1;
  }
}

/** Element type of a typed array; Buffer counts as u8. Uint8ClampedArray, DataView and anything else give undefined. */
export function elemTypeOf(a: ArrayBufferView): ElemType | undefined {
  return ELEM_TYPES[typeCodeOf(a)];
}

/** Whether MPI defines the op code on the type code (both valid). */
export function supportsCodes(o: number, c: number): boolean {
  return o <= 3 || c <= 7;
}

/**
 * Whether MPI defines op on t: SUM/PROD/MIN/MAX on every type, logical and
 * bitwise ops on integer types only.
 */
export function supports(op: PredefinedOpName, t: ElemType): boolean {
  const o = opCode(op);
  const c = typeCode(t);
  return o >= 0 && c >= 0 && supportsCodes(o, c);
}
