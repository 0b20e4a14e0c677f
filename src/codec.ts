import { serialize, deserialize } from 'node:v8';
import { ELEM_TYPES, elemTypeOf, typedArrayCtor, type ElemType, type NumericArray } from './kernels/index.js';
import { FmiError, MismatchError, type FmiErrorFields } from './errors.js';

/**
 * What a message's payload is. TypedArrays travel as their raw bytes (no
 * serialization, no copy on send); anything else is a structured value
 * serialized with V8's structured clone.
 */
export const Kind = {
  /** 1 + element type code: Int8Array = 1 ... Float64Array = 10. */
  TYPED_BASE: 1,
  BUFFER: 11,
  STRUCTURED: 12,
  // Internal kinds, never decoded as user data; one list so no two collide.
  /** Internal: bcast on few ranks, "wait for your binomial parent" (bcast.ts). */
  RELAYED: 247,
  /** Internal: a stalled collective receive nudges its peer (nudge.ts). */
  NUDGE: 248,
  /** Internal: a bcast header announcing segments (bcast-pipelined.ts). */
  SEGMENTED: 249,
  /** Internal: several encoded items in one message (gather/scatter trees). */
  BUNDLE: 250,
  /** Internal: a rank tells its peers that a collective failed on its side. */
  ERROR: 254,
} as const;

export interface Encoded {
  kind: number;
  bytes: Uint8Array;
}

export function isTyped(v: unknown): v is NumericArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && elemTypeOf(v) !== undefined;
}

export function kindOfTyped(t: ElemType): number {
  return Kind.TYPED_BASE + ELEM_TYPES.indexOf(t);
}

export function elemTypeOfKind(kind: number): ElemType | undefined {
  return kind >= Kind.TYPED_BASE && kind < Kind.TYPED_BASE + ELEM_TYPES.length ? ELEM_TYPES[kind - Kind.TYPED_BASE] : undefined;
}

/**
 * Largest message, in bytes: 4 GiB. Frames could announce more, but Node 20
 * cannot make a byte view of a larger buffer (a plain RangeError), the kernels'
 * Wasm memory ends at 4 GiB, and a receiver must hold a whole message.
 */
export const MAX_MESSAGE_BYTES = 2 ** 32;

function checkSize(n: number): void {
  if (n > MAX_MESSAGE_BYTES) {
    throw new FmiError('MPI_ERR_COUNT', `a message of ${n} bytes is over the limit of 4 GiB (${MAX_MESSAGE_BYTES} bytes): send it in parts`);
  }
}

export function bytesOf(v: ArrayBufferView): Uint8Array {
  checkSize(v.byteLength);
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

export function encode(value: unknown): Encoded {
  if (Buffer.isBuffer(value)) return { kind: Kind.BUFFER, bytes: value };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const t = elemTypeOf(value);
    if (t !== undefined) return { kind: kindOfTyped(t), bytes: bytesOf(value) };
  }
  try {
    return { kind: Kind.STRUCTURED, bytes: serialize(value) };
  } catch (cause) {
    throw new FmiError('MPI_ERR_TYPE', `value cannot be sent (not a TypedArray nor structured-cloneable)`, { cause });
  }
}

/**
 * Turns received bytes back into the value that was sent. A TypedArray view is
 * made over the bytes when they are aligned for its element type (always so
 * for buffers the channel allocated), copied otherwise.
 */
export function decode(kind: number, bytes: Uint8Array): unknown {
  if (kind === Kind.STRUCTURED) return deserialize(bytes);
  if (kind === Kind.BUFFER) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const t = elemTypeOfKind(kind);
  if (t === undefined) throw new FmiError('FMI_PROTOCOL', `unknown payload kind ${kind}`);
  return typedView(t, bytes);
}

export function typedView(t: ElemType, bytes: Uint8Array): NumericArray {
  const Ctor = typedArrayCtor(t);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new FmiError('MPI_ERR_SIZE', `${bytes.byteLength} bytes are not a whole number of ${t} elements`);
  }
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Ctor(copy.buffer, 0, bytes.byteLength / size);
}

/** Error payloads: a code and a message, so peers fail with the same typed error. */
export function encodeError(err: FmiError | Error): Encoded {
  const code = err instanceof FmiError ? err.code : 'FMI_CHANNEL';
  return { kind: Kind.ERROR, bytes: serialize({ code, message: err.message }) };
}

export function decodeError(bytes: Uint8Array, fields: FmiErrorFields): FmiError {
  const { code, message } = deserialize(bytes) as { code: FmiError['code']; message: string };
  if (code === 'FMI_MISMATCH') return new MismatchError(`failed on a peer: ${message}`, fields);
  return new FmiError(code, `failed on a peer: ${message}`, fields);
}
