import { FmiError } from '../../errors.js';

/**
 * What an object of the S3 channel holds: a 16-byte header, then the payload.
 *
 *   0  u32  magic 'FMS3'
 *   4  u8   version (1)
 *   5  u8   kind (codec payload kind)
 *   6  u8   flags (bit 0: skip marker, no payload: the sender's PUT failed;
 *            bits 1-2: a CRC-32 or HMAC trailer follows the payload, see integrity.ts)
 *   7  u8   reserved (0)
 *   8  i32  context
 *  12  i32  tag
 *
 * The payload length is the object's length minus the header: S3 tells it in
 * Content-Length, and a body that ends early is caught by comparing the two.
 */
export const HEADER_BYTES = 16;
const MAGIC = 0x33534d46; // 'FMS3' read as little-endian u32
const VERSION = 1;
export const FLAG_SKIP = 1;
const FLAG_CRC32 = 2;
const FLAG_HMAC = 4;

/** The flags that say which trailer an object has: `trailerBytes` 0 (none), 4 (CRC-32) or 32 (HMAC). */
export function trailerFlags(trailerBytes: number): number {
  return trailerBytes === 0 ? 0 : trailerBytes === 4 ? FLAG_CRC32 : FLAG_HMAC;
}

/** FMI_PROTOCOL unless an object's flags name the trailer this rank expects (every rank must use the same integrity option). */
export function checkTrailerFlags(flags: number, trailerBytes: number, where: string): void {
  const has = flags & (FLAG_CRC32 | FLAG_HMAC);
  if (has !== trailerFlags(trailerBytes)) throw damaged(where, `its trailer flags are ${has}, this rank expects ${trailerFlags(trailerBytes)} (every rank must use the same integrity option)`);
}

export interface Header {
  kind: number;
  flags: number;
  ctx: number;
  tag: number;
}

export function writeHeader(into: Uint8Array, kind: number, flags: number, ctx: number, tag: number): void {
  const v = new DataView(into.buffer, into.byteOffset, HEADER_BYTES);
  v.setUint32(0, MAGIC, true);
  v.setUint8(4, VERSION);
  v.setUint8(5, kind);
  v.setUint8(6, flags);
  v.setUint8(7, 0);
  v.setUint32(8, ctx, true);
  v.setInt32(12, tag, true);
}

/** Reads and checks a header; `where` names the object in the error. */
export function readHeader(from: Uint8Array, where: string): Header {
  if (from.byteLength < HEADER_BYTES) throw damaged(where, `${from.byteLength} bytes, shorter than the header`);
  const v = new DataView(from.buffer, from.byteOffset, HEADER_BYTES);
  if (v.getUint32(0, true) !== MAGIC) throw damaged(where, 'not an fmi object (bad magic)');
  if (v.getUint8(4) !== VERSION) throw damaged(where, `unknown version ${v.getUint8(4)}`);
  return { kind: v.getUint8(5), flags: v.getUint8(6), ctx: v.getUint32(8, true), tag: v.getInt32(12, true) };
}

function damaged(where: string, why: string): FmiError {
  return new FmiError('FMI_PROTOCOL', `object ${where}: ${why}`, { channel: 's3' });
}

/** Object names of one job. Every key of the job starts with `jobPrefix`. */
export class Keys {
  readonly job: string;

  constructor(prefix: string, job: string) {
    this.job = `${prefix}${job}/`;
  }

  /** Message number `seq` from `source` to `dest`. */
  message(dest: number, source: number, seq: number): string {
    return `${this.job}p2p/${dest}/${source}/${seq}`;
  }

  /** Every message to `dest`, read or not: what `dest` removes when it closes. */
  inbox(dest: number): string {
    return `${this.job}p2p/${dest}/`;
  }

  /** Rank `rank`'s heartbeat object ('up', rewritten periodically; 'closed' once it closed). */
  alive(rank: number): string {
    return `${this.job}alive/${rank}`;
  }

  /** Every rank's heartbeat object. */
  aliveDir(): string {
    return `${this.job}alive/`;
  }

  /** A value of the key-value store (bcast and other mediated collectives). */
  value(key: string): string {
    return `${this.job}kv/${key}`;
  }
}

/**
 * A job id becomes part of every object name, and `fmi clean --job` deletes
 * everything under it: an empty id or one with '/' could reach other jobs.
 */
export function checkJob(job: string): void {
  if (typeof job !== 'string' || job.length === 0 || job.includes('/') || job.length > 200) {
    throw new FmiError('FMI_CONFIG', `job id ${JSON.stringify(job)} cannot name S3 objects: it must be 1-200 characters without '/'`, { channel: 's3' });
  }
}
