import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A job's secret and what is derived from it. The secret itself never goes on
 * the wire; each use gets a key of its own (HKDF-SHA-256, salted with the job
 * id), so that what one party learns cannot be used elsewhere:
 *  - the rendezvous key: proves registrations and pairing requests; the server
 *    learns it from the job's first registration and keeps it as the job's
 *    verifier. A server that knows it cannot derive the direct key.
 *  - the direct key: proves each side of a data connection to the other; only
 *    ranks of the job know it.
 * A job without a secret derives both from the job id alone: its connections
 * then prove knowledge of the job id, no more (no job id on the wire to a
 * listener, though).
 */
export interface JobKeys {
  /** Whether the job has a secret (a job without one is refused by one with). */
  readonly secret: boolean;
  readonly rendezvous: Buffer;
  readonly direct: Buffer;
}

/** Fewest bytes a secret may have: 128 bits, if they are random. */
export const MIN_SECRET_BYTES = 16;
export const KEY_BYTES = 32;
export const NONCE_BYTES = 32;

export function deriveKeys(job: string, secret?: string): JobKeys {
  const ikm = Buffer.from(secret ?? '', 'utf8');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', ikm, Buffer.from(job, 'utf8'), info, KEY_BYTES));
  return { secret: secret !== undefined, rendezvous: derive('fmi rendezvous v1'), direct: derive('fmi direct v1') };
}

/** A new secret for a job: 256 random bits, base64url (what `fmi run` hands its ranks). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

/**
 * A request's proof: HMAC-SHA-256 under the rendezvous key of the server's
 * nonce for this connection and the request as sent (type, job, rank(s) and
 * the rest), so it is good for one connection and one request.
 */
export function proveRequest(key: Buffer, nonce: string, body: object): string {
  return createHmac('sha256', key).update(`fmi rendezvous v1\n${nonce}\n${JSON.stringify(body)}`).digest('base64');
}

/** `body` as a rank sends it: with its proof when the job has a secret. */
export function signed<T extends object>(keys: JobKeys, nonce: string, body: T): T & { proof?: string } {
  return keys.secret ? { ...body, proof: proveRequest(keys.rendezvous, nonce, body) } : body;
}

/** An unknown key's stand-in, so that checking a proof for no job takes as long as for a job. */
const NO_KEY = randomBytes(KEY_BYTES);

/**
 * Whether `proof` proves `body` under `key` for `nonce`. Without a key (no
 * such job) the same HMAC is computed and compared, and the answer is no.
 */
export function checkRequest(key: Buffer | undefined, nonce: string, body: object, proof: unknown): boolean {
  const want = Buffer.from(proveRequest(key ?? NO_KEY, nonce, body), 'base64');
  const got = typeof proof === 'string' ? Buffer.from(proof, 'base64') : Buffer.alloc(0);
  const same = got.byteLength === want.byteLength ? timingSafeEqual(got, want) : timingSafeEqual(want, want) && false;
  return key !== undefined && same;
}

/** A key sent to enroll a job, decoded; undefined unless it is KEY_BYTES long. */
export function decodeKey(s: unknown): Buffer | undefined {
  if (typeof s !== 'string' || s.length > 64) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.byteLength === KEY_BYTES ? b : undefined;
}

export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** What every refused request hears, whatever the reason: a stranger learns nothing from it. */
export const NOT_AUTHORIZED = 'not authorized for this job';
