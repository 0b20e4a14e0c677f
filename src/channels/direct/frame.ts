import { FmiError } from '../../errors.js';

/**
 * Every message on a direct connection is a 32-byte header and its payload:
 *
 *   0 u16 magic   2 u8 version   3 u8 kind   4 u32 flags (0)
 *   8 u32 ctx    12 i32 tag     16 u32 seq  20 u32 length low  24 u32 length high
 *  28 u32 check  (a mix of the fields above)
 *
 * The sequence number counts frames per direction, and the check covers the
 * header, so a lost or short read shows up as a protocol error at the next
 * header instead of being taken for data.
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
}

function check(kind: number, ctx: number, tag: number, seq: number, lo: number, hi: number): number {
  let h = 0x811c9dc5 ^ (MAGIC | (VERSION << 16) | (kind << 24));
  for (const v of [ctx, tag, seq, lo, hi]) h = Math.imul(h ^ v, 0x01000193) >>> 0;
  return h >>> 0;
}

export function writeHeader(buf: Buffer, offset: number, h: FrameHeader): void {
  const lo = h.length >>> 0;
  const hi = Math.floor(h.length / 0x1_0000_0000) >>> 0;
  buf.writeUInt16LE(MAGIC, offset);
  buf.writeUInt8(VERSION, offset + 2);
  buf.writeUInt8(h.kind, offset + 3);
  buf.writeUInt32LE(0, offset + 4);
  buf.writeUInt32LE(h.ctx >>> 0, offset + 8);
  buf.writeInt32LE(h.tag, offset + 12);
  buf.writeUInt32LE(h.seq >>> 0, offset + 16);
  buf.writeUInt32LE(lo, offset + 20);
  buf.writeUInt32LE(hi, offset + 24);
  buf.writeUInt32LE(check(h.kind, h.ctx >>> 0, h.tag, h.seq >>> 0, lo, hi), offset + 28);
}

/** Reads and verifies a header; `expectedSeq` is the next frame number on this connection. */
export function readHeader(buf: Buffer, expectedSeq: number): FrameHeader {
  const magic = buf.readUInt16LE(0);
  const version = buf.readUInt8(2);
  const kind = buf.readUInt8(3);
  const ctx = buf.readUInt32LE(8);
  const tag = buf.readInt32LE(12);
  const seq = buf.readUInt32LE(16);
  const lo = buf.readUInt32LE(20);
  const hi = buf.readUInt32LE(24);
  const sum = buf.readUInt32LE(28);
  if (magic !== MAGIC || version !== VERSION) {
    throw new FmiError('FMI_PROTOCOL', `bad frame header (magic ${magic.toString(16)}, version ${version})`);
  }
  if (sum !== check(kind, ctx, tag, seq, lo, hi)) throw new FmiError('FMI_PROTOCOL', 'frame header check failed');
  if (seq !== expectedSeq >>> 0) throw new FmiError('FMI_PROTOCOL', `frame ${seq} arrived, expected ${expectedSeq}`);
  const length = hi * 0x1_0000_0000 + lo;
  if (length > MAX_PAYLOAD) throw new FmiError('FMI_PROTOCOL', `frame announces ${length} bytes`);
  return { kind, ctx, tag, seq, length };
}
