import { createHmac, hkdfSync } from 'node:crypto';
import * as zlib from 'node:zlib';
import { FmiError } from '../../errors.js';

/**
 * Opt-in payload checks on direct connections (the header always has its
 * own check). 'crc32' catches corruption: CRC-32 of the payload, with Node's
 * built-in zlib.crc32 (native, no dependency; CRC-32C would need an npm
 * package, and for random corruption both detect the same). 'hmac'
 * authenticates it as well: HMAC-SHA-256 under a key derived from the job
 * secret, over the header (its frame number: no replay or reordering), both
 * ranks and the payload. The frame's flags say which trailer follows the
 * payload; both sides must use the same mode, or the connection fails.
 */
export type IntegrityMode = 'none' | 'crc32' | 'hmac';
export const INTEGRITY_MODES: readonly IntegrityMode[] = ['none', 'crc32', 'hmac'];

/** Header flags: which trailer follows the payload. */
export const FLAG_CRC32 = 1;
export const FLAG_HMAC = 2;

export interface Integrity {
  readonly flags: number;
  readonly trailerBytes: number;
  /** The trailer of a frame: `header` as sent (32 bytes), `payload` its bytes; `from` sent it to `to`. */
  trailer(header: Uint8Array, payload: Uint8Array, from: number, to: number): Uint8Array;
}

const crc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** The checks of `mode` (undefined for 'none'); 'hmac' needs the job secret. */
export function integrityFor(mode: IntegrityMode, job: string, secret: string | undefined, rank: number): Integrity | undefined {
  if (mode === 'none') return undefined;
  if (mode === 'crc32') {
    if (!crc32) throw new FmiError('FMI_CONFIG', "integrity 'crc32' needs zlib.crc32 (Node 20.15 or 22.2 and later)", { rank, channel: 'direct' });
    const out = new Uint8Array(4);
    const view = new DataView(out.buffer);
    return {
      flags: FLAG_CRC32,
      trailerBytes: 4,
      trailer: (_h, payload) => {
        view.setUint32(0, crc32(payload), true);
        return out;
      },
    };
  }
  if (mode === 'hmac') {
    if (secret === undefined) throw new FmiError('FMI_CONFIG', "integrity 'hmac' needs the job secret (FMI_SECRET or init({ secret }))", { rank, channel: 'direct' });
    const key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from(job, 'utf8'), 'fmi payload v1', 32));
    const ranks = new DataView(new ArrayBuffer(8));
    return {
      flags: FLAG_HMAC,
      trailerBytes: 32,
      trailer: (header, payload, from, to) => {
        ranks.setUint32(0, from, true);
        ranks.setUint32(4, to, true);
        return createHmac('sha256', key).update(header).update(new Uint8Array(ranks.buffer)).update(payload).digest();
      },
    };
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
