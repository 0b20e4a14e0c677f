import { FmiError, type FmiErrorFields } from '../../errors.js';

/**
 * One list element: a fixed 40-byte header and up to `chunkBytes` of payload.
 * A message longer than one chunk is several frames, pushed in order by one
 * sender in one transaction; frames of different senders may interleave in
 * an inbox, so the reader reassembles per source.
 *
 * ```
 *  0 u8  magic 0xF3        1 u8  version 1      2 u8 kind     3 u8 flags
 *  4 u32 source rank       8 u32 context       12 i32 tag
 * 16 u32 chunk index      20 u32 chunk count   24 u32 total length, low 32 bits
 * 28 u32 total length, high 21 bits
 * 32 u32 sequence number  36 u32 reserved (0)
 * ```
 * Little-endian. The payload is the rest of the element (40 bytes in, so
 * wide TypedArray views on it stay aligned). Flags: 0 for a message;
 * FLAG_MARK for a marker a rank pushes to its own inbox (see liveness.ts),
 * whose context field carries the marker's number. The sequence number counts
 * a sender's messages to one destination from 1 (every frame of a message
 * carries the message's): the reader drops a frame it has seen (a send resent
 * after a reconnect) and fails on a gap (the server lost a message). Stored
 * values carry 0.
 */
export const HEADER_BYTES = 40;
const MAGIC = 0xf3;
const VERSION = 2;
const TWO_32 = 2 ** 32;
const FLAG_MARK = 1;

export interface FrameHeader {
  kind: number;
  source: number;
  ctx: number;
  tag: number;
  index: number;
  count: number;
  total: number;
  /** The message's number among its sender's messages to this destination (from 1); 0 for stored values. */
  seq?: number;
}

/** Writes a header at the start of `b` (which must hold at least HEADER_BYTES). */
export function writeHeader(b: Buffer, h: FrameHeader): void {
  b[0] = MAGIC;
  b[1] = VERSION;
  b[2] = h.kind;
  b[3] = 0;
  b.writeUInt32LE(h.source, 4);
  b.writeUInt32LE(h.ctx, 8);
  b.writeInt32LE(h.tag, 12);
  b.writeUInt32LE(h.index, 16);
  b.writeUInt32LE(h.count, 20);
  b.writeUInt32LE(h.total % TWO_32, 24);
  b.writeUInt32LE(Math.floor(h.total / TWO_32), 28);
  b.writeUInt32LE(h.seq ?? 0, 32);
  b.writeUInt32LE(0, 36);
}

/**
 * Reads a frame's header into `out` (reused, so the read loop allocates
 * nothing per frame) and returns what is wrong with it, if anything. Whether a
 * chunk fits its message is the reassembler's to check (sender and reader need
 * not agree on a chunk size).
 */
export function parseHeader(b: Buffer, out: FrameHeader): string | undefined {
  if (b.length < HEADER_BYTES || b[0] !== MAGIC || b[1] !== VERSION) return 'not an fmi frame';
  out.kind = b[2]!;
  out.source = b.readUInt32LE(4);
  out.ctx = b.readUInt32LE(8);
  out.tag = b.readInt32LE(12);
  out.index = b.readUInt32LE(16);
  out.count = b.readUInt32LE(20);
  out.total = b.readUInt32LE(24) + b.readUInt32LE(28) * TWO_32;
  if (out.total > Number.MAX_SAFE_INTEGER) return `total length above 2^53 (high word ${b.readUInt32LE(28)})`;
  out.seq = b.readUInt32LE(32);
  if (out.count === 0 || out.index >= out.count) return `chunk ${out.index} of ${out.count}`;
  if (out.count === 1 && b.length - HEADER_BYTES !== out.total) return `${b.length - HEADER_BYTES} payload bytes, header says ${out.total}`;
  return undefined;
}

/**
 * Checks what goes into a header before a transaction starts: a value out of
 * range must fail the call, not leave half a MULTI block on the connection.
 */
export function checkEnvelope(e: { kind: number; ctx: number; tag: number }, fields: FmiErrorFields): void {
  const bad = !isUint(e.kind, 0xff) ? `kind ${e.kind}` : !isUint(e.ctx, 0xffffffff) ? `context ${e.ctx}` : !isUint(e.tag, 0x7fffffff) ? `tag ${e.tag}` : undefined;
  if (bad) throw new FmiError('MPI_ERR_ARG', `${bad} does not fit a redis frame`, fields);
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

export function chunkCount(total: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(total / chunkBytes));
}

export function damaged(what: string, fields: FmiErrorFields = {}): FmiError {
  return new FmiError('FMI_PROTOCOL', `damaged redis frame: ${what}`, { ...fields, channel: 'redis' });
}

/**
 * Builds frames in one buffer reused for every frame of the channel. Safe
 * because the client copies a command's arguments into its socket write during
 * the call (see openClient), so a frame is dead once the command was issued.
 */
export class FrameScratch {
  #buf: Buffer = Buffer.allocUnsafeSlow(4096);

  /** A frame of header `h` and payload `chunk`, valid until the next call. */
  frame(h: FrameHeader, chunk: Uint8Array): Buffer {
    const n = HEADER_BYTES + chunk.byteLength;
    if (this.#buf.length < n) this.#buf = Buffer.allocUnsafeSlow(Math.max(n, Math.min(2 * this.#buf.length, 64 * 1024 * 1024)));
    writeHeader(this.#buf, h);
    this.#buf.set(chunk, HEADER_BYTES);
    return this.#buf.subarray(0, n);
  }
}

export function newHeader(): FrameHeader {
  return { kind: 0, source: 0, ctx: 0, tag: 0, index: 0, count: 1, total: 0, seq: 0 };
}

/** A marker frame: no message, only a place in the inbox's order (number `n`). */
export function markFrame(rank: number, n: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  writeHeader(b, { kind: 0, source: rank, ctx: n, tag: 0, index: 0, count: 1, total: 0 });
  b[3] = FLAG_MARK;
  return b;
}

/** The number of a marker frame; undefined for anything else. */
export function markOf(b: Buffer): number | undefined {
  return b.length === HEADER_BYTES && b[0] === MAGIC && b[3] === FLAG_MARK ? b.readUInt32LE(8) : undefined;
}
