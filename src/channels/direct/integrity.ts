import { createHmac, hkdfSync, type Hmac } from 'node:crypto';
import * as zlib from 'node:zlib';
import { FmiError, type FmiErrorFields } from '../../errors.js';

/**
 * Opt-in payload checks on direct connections (the header always has its
 * own check). 'crc32' catches corruption: CRC-32 of the payload, with Node's
 * built-in zlib.crc32 (native, no dependency; CRC-32C would need an npm
 * package, and for random corruption both detect the same). 'hmac'
 * authenticates it as well: HMAC-SHA-256 under a key derived from the job
 * secret, over the header (its frame number: no replay or reordering), both
 * ranks and the payload. The frame's flags say which trailer follows the
 * payload; both sides must use the same mode, or the connection fails.
 *
 * A check runs over a frame's payload in pieces, each piece as it lands (the
 * receiver) or once the kernel has it (the sender): one pass over bytes that
 * are still in cache, and the sender's pass overlaps the receiver's reads.
 */
export type IntegrityMode = 'none' | 'crc32' | 'hmac';
export const INTEGRITY_MODES: readonly IntegrityMode[] = ['none', 'crc32', 'hmac'];

/** Header flags: which trailer follows the payload. */
export const FLAG_CRC32 = 1;
export const FLAG_HMAC = 2;

/** The running check of one frame at a time, in one direction of one connection. */
export interface FrameCheck {
  /** A new frame: `header` is its 32 bytes as sent. */
  start(header: Uint8Array): void;
  /** The next bytes of its payload, in order. */
  update(bytes: Uint8Array): void;
  /** Its trailer (valid until the next start). */
  end(): Uint8Array;
}

export interface Integrity {
  readonly flags: number;
  readonly trailerBytes: number;
  /** The check of frames that `from` sends to `to`. */
  check(from: number, to: number): FrameCheck;
}

const crc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

class Crc32Check implements FrameCheck {
  readonly #out = new Uint8Array(4);
  readonly #view = new DataView(this.#out.buffer);
  #crc = 0;

  start(): void {
    this.#crc = 0;
  }

  update(bytes: Uint8Array): void {
    this.#crc = crc32!(bytes, this.#crc);
  }

  end(): Uint8Array {
    this.#view.setUint32(0, this.#crc, true);
    return this.#out;
  }
}

class HmacCheck implements FrameCheck {
  readonly #key: Buffer;
  readonly #ranks = new Uint8Array(8);
  #mac: Hmac | undefined;

  constructor(key: Buffer, from: number, to: number) {
    this.#key = key;
    const v = new DataView(this.#ranks.buffer);
    v.setUint32(0, from, true);
    v.setUint32(4, to, true);
  }

  start(header: Uint8Array): void {
    this.#mac = createHmac('sha256', this.#key).update(header).update(this.#ranks);
  }

  update(bytes: Uint8Array): void {
    this.#mac!.update(bytes);
  }

  end(): Uint8Array {
    const d = this.#mac!.digest();
    this.#mac = undefined;
    return d;
  }
}

/** The checks of `mode` (undefined for 'none'); 'hmac' needs the job secret. */
export function integrityFor(mode: IntegrityMode, job: string, secret: string | undefined, rank: number): Integrity | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'crc32') {
    if (!crc32) throw new FmiError('FMI_CONFIG', "integrity 'crc32' needs zlib.crc32 (Node 20.15 or 22.2 and later)", { rank, channel: 'direct' });
    return { flags: FLAG_CRC32, trailerBytes: 4, check: () => new Crc32Check() };
  }
  if (mode === 'hmac') {
    if (secret === undefined) throw new FmiError('FMI_CONFIG', "integrity 'hmac' needs the job secret (FMI_SECRET or init({ secret }))", { rank, channel: 'direct' });
    const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from(job, 'utf8'), 'fmi payload v1', 32));
    return { flags: FLAG_HMAC, trailerBytes: 32, check: (from, to) => new HmacCheck(key, from, to) };
  }
  throw new FmiError('FMI_CONFIG', `integrity must be one of ${INTEGRITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`, { rank, channel: 'direct' });
}

/** Constant-time comparison of a received trailer with the expected one. */
export function sameTrailer(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

/**
 * The same checks for what the Redis and S3 channels store: a trailer after
 * each stored element (a Redis list element, an S3 object), over the name it
 * is stored under and its bytes, so that a value copied to another key fails
 * too. 'hmac' uses a key of its own (another HKDF label).
 */
/** What the Redis and S3 channels take for their checks. */
export interface IntegrityOptions {
  /** Opt-in checks of every stored element; every rank must pass the same. @default 'none' */
  integrity?: IntegrityMode;
  /** The job secret, for integrity 'hmac'. */
  secret?: string;
}

export interface Seal {
  readonly trailerBytes: number;
  /** The running check of an element stored under `where`. */
  begin(where: string): FrameCheck;
}

export function sealFor(mode: IntegrityMode, job: string, secret: string | undefined, rank: number, channel: string): Seal | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'crc32') {
    if (!crc32) throw new FmiError('FMI_CONFIG', "integrity 'crc32' needs zlib.crc32 (Node 20.15 or 22.2 and later)", { rank, channel });
    return {
      trailerBytes: 4,
      begin: (where) => {
        const c = new Crc32Check();
        c.update(Buffer.from(where, 'utf8'));
        return c;
      },
    };
  }
  if (mode === 'hmac') {
    if (secret === undefined) throw new FmiError('FMI_CONFIG', "integrity 'hmac' needs the job secret (FMI_SECRET or init({ secret }))", { rank, channel });
    const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from(job, 'utf8'), 'fmi stored v1', 32));
    return {
      trailerBytes: 32,
      begin: (where) => {
        // A check may span awaits (an S3 body streaming in): one per element.
        const c = new HmacCheck(key, 0, 0);
        c.start(Buffer.from(where, 'utf8'));
        return c;
      },
    };
  }
  throw new FmiError('FMI_CONFIG', `integrity must be one of ${INTEGRITY_MODES.join(', ')}, got ${JSON.stringify(mode)}`, { rank, channel });
}

/** `parts` as one element stored under `where`, its trailer after them. */
export function sealed(seal: Seal, where: string, ...parts: Uint8Array[]): Buffer {
  const c = seal.begin(where);
  for (const p of parts) c.update(p);
  return Buffer.concat([...parts, c.end()]);
}

/** The bytes of an element stored under `where`, without its trailer; FMI_PROTOCOL if they do not match it. */
export function unsealed(seal: Seal, where: string, stored: Buffer, channel: string): Buffer {
  const n = stored.byteLength - seal.trailerBytes;
  const body = stored.subarray(0, Math.max(0, n));
  const c = seal.begin(where);
  c.update(body);
  if (n < 0 || !sameTrailer(c.end(), stored.subarray(n))) throw corrupted(where, seal, channel);
  return body;
}

/** What a receive of a stored element that failed its check fails with. */
export function corrupted(where: string, seal: Seal, channel: string, fields: FmiErrorFields = {}): FmiError {
  const what = seal.trailerBytes === 4 ? 'CRC-32' : 'HMAC';
  return new FmiError('FMI_PROTOCOL', `${channel} element ${where} failed its ${what} check: corrupted or forged (or the ranks disagree on the integrity option)`, { ...fields, channel });
}
