import { FmiError } from '../../errors.js';

/**
 * Every message on a direct connection is a 32-byte header and its payload:
 *
 *   0 u16 magic   2 u8 version   3 u8 kind   4 u32 flags (integrity.ts: the payload's trailer)
 *   8 u32 ctx    12 i32 tag     16 u32 seq  20 u32 length low  24 u32 length high
 *  28 u32 check  (a mix of the fields above)
 *
 * All little-endian. The sequence number counts frames per direction, and the
 * check covers the header, so a lost or short read shows up as a protocol
 * error at the next header instead of being taken for data. With a flag set,
 * a trailer (a CRC or an HMAC of the payload) follows the payload; `length`
 * does not count it.
 */
export const HEADER_BYTES = 32;
export const MAGIC = 0xf41f;
export const VERSION = 1;
/** Largest payload a frame may announce: JS's safe integers. */
export const MAX_PAYLOAD = Number.MAX_SAFE_INTEGER;

export interface FrameHeader {
  kind: number;
  ctx: number;
  tag: number;
  seq: number;
  length: number;
  /** 0 unless a trailer follows the payload (integrity.ts). */
  flags?: number;
}

// Called per message: plain arithmetic, no array or object per call.
function check(kind: number, ctx: number, tag: number, seq: number, lo: number, hi: number, flags: number): number {
  let h = 0x811c9dc5 ^ (MAGIC | (VERSION << 16) | (kind << 24));
  h = Math.imul(h ^ flags, 0x01000193) >>> 0;
  h = Math.imul(h ^ ctx, 0x01000193) >>> 0;
  h = Math.imul(h ^ tag, 0x01000193) >>> 0;
  h = Math.imul(h ^ seq, 0x01000193) >>> 0;
  h = Math.imul(h ^ lo, 0x01000193) >>> 0;
  h = Math.imul(h ^ hi, 0x01000193) >>> 0;
  return h;
}

/** Writes a header at `offset` of `view` (fields as arguments: the send path makes no object for them). */
export function encodeHeader(view: DataView, offset: number, kind: number, ctx: number, tag: number, seq: number, length: number, flags = 0): void {
  const lo = length >>> 0;
  const hi = Math.floor(length / 0x1_0000_0000) >>> 0;
  ctx >>>= 0;
  seq >>>= 0;
  view.setUint16(offset, MAGIC, true);
  view.setUint8(offset + 2, VERSION);
  view.setUint8(offset + 3, kind);
  view.setUint32(offset + 4, flags, true);
  view.setUint32(offset + 8, ctx, true);
  view.setInt32(offset + 12, tag, true);
  view.setUint32(offset + 16, seq, true);
  view.setUint32(offset + 20, lo, true);
  view.setUint32(offset + 24, hi, true);
  view.setUint32(offset + 28, check(kind, ctx, tag, seq, lo, hi, flags), true);
}

/**
 * Reads and verifies the header at `at` in `view` into `out` (reused by the
 * caller); `expectedSeq` is the next frame number on this connection.
 */
export function decodeHeader(view: DataView, at: number, expectedSeq: number, out: FrameHeader): FrameHeader {
  const magic = view.getUint16(at, true);
  const version = view.getUint8(at + 2);
  const kind = view.getUint8(at + 3);
  const flags = view.getUint32(at + 4, true);
  const ctx = view.getUint32(at + 8, true);
  const tag = view.getInt32(at + 12, true);
  const seq = view.getUint32(at + 16, true);
  const lo = view.getUint32(at + 20, true);
  const hi = view.getUint32(at + 24, true);
  const sum = view.getUint32(at + 28, true);
  if (magic !== MAGIC || version !== VERSION) {
    throw new FmiError('FMI_PROTOCOL', `bad frame header (magic ${magic.toString(16)}, version ${version})`);
  }
  if (sum !== check(kind, ctx, tag, seq, lo, hi, flags)) throw new FmiError('FMI_PROTOCOL', 'frame header check failed');
  if (seq !== expectedSeq >>> 0) throw new FmiError('FMI_PROTOCOL', `frame ${seq} arrived, expected ${expectedSeq >>> 0}`);
  const length = hi * 0x1_0000_0000 + lo;
  if (length > MAX_PAYLOAD) throw new FmiError('FMI_PROTOCOL', `frame announces ${length} bytes`);
  out.kind = kind;
  out.ctx = ctx;
  out.tag = tag;
  out.seq = seq;
  out.length = length;
  out.flags = flags;
  return out;
}

const viewOf = (buf: Uint8Array) => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

export function writeHeader(buf: Uint8Array, offset: number, h: FrameHeader): void {
  encodeHeader(viewOf(buf), offset, h.kind, h.ctx, h.tag, h.seq, h.length, h.flags);
}

/** Reads and verifies a header; `expectedSeq` is the next frame number on this connection. */
export function readHeader(buf: Uint8Array, expectedSeq: number): FrameHeader {
  return decodeHeader(viewOf(buf), 0, expectedSeq, { kind: 0, ctx: 0, tag: 0, seq: 0, length: 0 });
}
