import { encode, elemTypeOfKind, isTyped, Kind, typedView, type Encoded } from '../codec.js';
import { decodeError, encodeError } from '../codec.js';
import { FmiError } from '../errors.js';
import { elemTypeOf, typedArrayCtor, type NumericArray } from '../kernels/index.js';
import type { CollContext } from '../collectives/context.js';
import type { ModelOptions, OpName } from '../model/types.js';
import type { Status } from './request.js';
import { checkNotDetached } from './validate.js';

/**
 * Turning what collectives move (encoded items per rank) into what users get
 * back, and the checks on the way: pure functions of their arguments.
 */
export function raiseItems(items: { kind: number; bytes: Uint8Array; rank?: number }[], c: CollContext): void {
  const bad = items.find((it) => it.kind === Kind.ERROR);
  if (bad) throw decodeError(bad.bytes, c.fields(bad.rank));
}

export function checkCount(data: unknown, count: number, what: string, c: CollContext): Encoded {
  if (!isTyped(data)) throw new FmiError('MPI_ERR_TYPE', `${what} works on TypedArrays`, c.fields());
  if (data.length !== count) throw new FmiError('MPI_ERR_COUNT', `${what}: this rank's count is ${count}, its data has ${data.length} elements`, c.fields());
  return encode(data);
}

/** Root's scatter/alltoall input as one encoded item per rank. */
export function splitForRanks(items: unknown, c: CollContext): Encoded[] {
  const what = c.op;
  const fields = c.fields();
  if (isTyped(items)) {
    if (items.length % c.size !== 0) {
      throw new FmiError('MPI_ERR_COUNT', `${items.constructor.name} of length ${items.length} does not divide into ${c.size} equal parts`, fields);
    }
    const n = items.length / c.size;
    return Array.from({ length: c.size }, (_, r) => encode(items.subarray(r * n, (r + 1) * n)));
  }
  if (!Array.isArray(items) || items.length !== c.size) {
    throw new FmiError('MPI_ERR_COUNT', `${what} needs an array of ${c.size} items or a TypedArray, got ${Array.isArray(items) ? `${items.length} items` : typeof items}`, fields);
  }
  return items.map((it) => encode(it));
}

export function concat(items: { rank: number; kind: number; bytes: Uint8Array }[], mine: NumericArray, c: CollContext): NumericArray {
  const sizes = items.map((it) => it.bytes.byteLength / mine.BYTES_PER_ELEMENT);
  let at = 0;
  const displs = sizes.map((n) => ((at += n), at - n));
  return place(items, mine, { counts: sizes, displs, extent: at }, c);
}

/** Places each rank's TypedArray at its displacement in one new array of `like`'s type. */
export function place(items: { rank: number; kind: number; bytes: Uint8Array }[], like: NumericArray, l: { counts: number[]; displs: number[]; extent: number }, c: CollContext): NumericArray {
  const t = elemTypeOf(like)!;
  const Ctor = typedArrayCtor(t);
  const out = new Ctor(l.extent);
  for (const it of items) {
    if (elemTypeOfKind(it.kind) !== t) {
      throw new FmiError('MPI_ERR_TYPE', `rank ${it.rank} contributed ${describeKind(it.kind)}, this rank a ${like.constructor.name}`, c.fields(it.rank));
    }
    const v = typedView(t, it.bytes);
    if (v.length !== l.counts[it.rank]) {
      throw new FmiError('MPI_ERR_COUNT', `rank ${it.rank} contributed ${v.length} elements, counts say ${l.counts[it.rank]}`, c.fields(it.rank));
    }
    (out as { set(a: ArrayLike<unknown>, o: number): void }).set(v as ArrayLike<unknown>, l.displs[it.rank]!);
  }
  return out;
}

export function fillStatus(s: Status, source: number, tag: number, kind: number, bytes: number): void {
  s.source = source;
  s.tag = tag;
  s.bytes = bytes;
  const t = elemTypeOfKind(kind);
  s.count = t ? bytes / typedArrayCtor(t).BYTES_PER_ELEMENT : bytes;
}

export function describeKind(kind: number): string {
  if (kind === Kind.STRUCTURED) return 'a structured value';
  if (kind === Kind.BUFFER) return 'a Buffer';
  const t = elemTypeOfKind(kind);
  return t ? `${t} data` : `kind ${kind}`;
}

/** The size every rank knows of its contribution: TypedArrays only (structured values differ by rank). */
/** What the channel choice and the cost accounting know of an operation. */
export interface Sizing {
  op: OpName;
  bytes: number;
  /** The algorithm actually used, where the model tells them apart. */
  model?: ModelOptions;
}

export function sized(op: OpName, data: unknown, model?: ModelOptions): Sizing | undefined {
  return isTyped(data) ? { op, bytes: data.byteLength, model } : undefined;
}

export function checkInto(into: unknown, data: unknown, c: CollContext): NumericArray | undefined {
  if (into == null) return undefined;
  checkNotDetached(into, '`into`', c.fields());
  if (!isTyped(into) || !isTyped(data) || into.constructor !== data.constructor || into.length !== data.length) {
    throw new FmiError('MPI_ERR_ARG', '`into` must be a TypedArray of the same type and length as the data', c.fields());
  }
  return into;
}

/**
 * Runs a collective with `into` when it fits the data. When it does not, the
 * collective still runs, without it (the other ranks must not be left
 * waiting), and this rank fails afterwards.
 */
export async function withInto<T>(into: unknown, data: unknown, c: CollContext, run: (into: NumericArray | undefined) => Promise<T>): Promise<T> {
  let fits: NumericArray | undefined;
  let bad: unknown;
  try {
    fits = checkInto(into, data, c);
  } catch (err) {
    bad = err;
  }
  const out = await run(fits);
  if (bad !== undefined) throw bad;
  return out;
}

export function intoOrNew(v: unknown, into: NumericArray | undefined): unknown {
  if (!into) return v;
  (into as { set(x: ArrayLike<unknown>): void }).set(v as ArrayLike<unknown>);
  return into;
}

/** `make()`'s items, or an ERROR item that tells the peers why this rank cannot contribute. */
export function orError<T extends Encoded | Encoded[]>(make: () => T, c?: CollContext): T | Encoded {
  try {
    return make();
  } catch (err) {
    return encodeError(err instanceof FmiError ? err : new FmiError('MPI_ERR_TYPE', String(err), c?.fields() ?? {}));
  }
}
