import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startHeartbeat, type Heartbeat } from '../heartbeat.js';
import type { Departure } from '../lost-peers.js';
import { deleteKeys } from './clean.js';
import { DEFAULT_TIMEOUT_MS, type S3Location, type S3RequestCounts } from './client.js';
import type { Keys } from './wire.js';

/** What a closed rank's heartbeat object holds (the heartbeat writes 'up': the sizes tell them apart in a LIST). */
const CLOSED = 'closed';
/**
 * What a launcher writes there for a rank that will never come (it could not
 * be started, or its invocation failed): its peers take it for dead at their
 * next check instead of waiting for it to start. 4 bytes: neither 'up' nor 'closed'.
 */
export const GONE = 'gone';
/** LastModified and Date have whole seconds: an object can look up to this much older than it is. */
const CLOCK_GRAIN_MS = 1000;
/** Heartbeat periods without a write after which a rank is dead. */
const MISSED_PERIODS = 3;

export interface S3LivenessOptions {
  client: S3Client;
  location: S3Location;
  keys: Keys;
  rank: number;
  size: number;
  /** Heartbeat period. */
  aliveMs: number;
  counts: S3RequestCounts;
}

/** Why a peer is gone, for the error its receives get. */
export interface Gone {
  how: Departure;
  detail: string;
}

/**
 * Which peers of an S3 job are gone.
 *
 * Each rank rewrites `alive/<rank>` every `aliveMs` (one PUT, from the
 * heartbeat worker thread: a busy event loop does not stop it), and writes
 * 'closed' there when it closes. A receiver's poll loop asks about a source
 * only after a miss and at most once per `aliveMs` (one HEAD): an object whose
 * LastModified is more than 3 periods (+1 s of timestamp grain) behind the
 * server's own Date is a dead rank; 'closed' a closed one; 'gone' (GONE, the
 * launcher's word) a rank that never comes; no object, a rank not started yet. Comparing two server timestamps keeps local clocks out.
 *
 * The receiver then reads on: a dead rank's messages written before it died
 * sit at the keys it polls, and only a miss after the verdict fails the
 * receives (receiver.ts).
 */
export class S3Liveness {
  readonly #o: S3LivenessOptions;
  readonly #lastCheck: number[];
  #beat: Heartbeat | undefined;

  constructor(o: S3LivenessOptions) {
    this.#o = o;
    this.#lastCheck = new Array<number>(o.size).fill(-Infinity);
  }

  /**
   * Writes a first heartbeat from here (one PUT), then starts the worker
   * without waiting for it: it takes about a second to come up cold, well
   * inside the MISSED_PERIODS a peer allows. A rank that dies before even
   * the first PUT is, to its peers, one not started yet.
   */
  async start(ms: number): Promise<void> {
    const { client, location: l, keys, rank, aliveMs, counts } = this.#o;
    await client.send(new PutObjectCommand({ Bucket: l.bucket, Key: keys.alive(rank), Body: 'up' }));
    counts.put++;
    counts.total++;
    const spec = {
      kind: 's3' as const,
      endpoint: l.endpoint,
      region: l.region,
      credentials: l.credentials,
      timeoutMs: l.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      bucket: l.bucket,
      key: keys.alive(rank),
      periodMs: aliveMs,
    };
    // The worker's PUTs are this rank's cost too.
    this.#beat = startHeartbeat(spec, ms, () => {
      counts.put++;
      counts.total++;
    });
  }

  /** Whether `source` is gone; asks S3 at most once per period per source (else says no). Never throws. */
  async check(source: number, signal: AbortSignal): Promise<Gone | undefined> {
    const now = performance.now();
    if (now - this.#lastCheck[source]! < this.#o.aliveMs) return undefined;
    this.#lastCheck[source] = now;
    const cmd = new HeadObjectCommand({ Bucket: this.#o.location.bucket, Key: this.#o.keys.alive(source) });
    let date: string | undefined;
    // The server's clock, from the response: LastModified is compared with it, not with ours.
    cmd.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        date = (out.response as { headers?: Record<string, string> }).headers?.date;
        return out;
      },
      { step: 'deserialize', name: 'fmiServerDate' },
    );
    let head;
    try {
      head = await this.#o.client.send(cmd, { abortSignal: signal });
    } catch {
      // 404: not started yet. Anything else: the message polls fail on their own if S3 is gone.
      return undefined;
    }
    if (head.ContentLength === CLOSED.length) return { how: 'closed', detail: '' };
    if (head.ContentLength === GONE.length) return { how: 'died', detail: 'its launcher gave it up: it could not be started, or its invocation failed' };
    const server = date ? Date.parse(date) : NaN;
    const written = head.LastModified?.getTime();
    if (written === undefined || Number.isNaN(server)) return undefined;
    const age = server - written;
    if (age <= MISSED_PERIODS * this.#o.aliveMs + CLOCK_GRAIN_MS) return undefined;
    return { how: 'died', detail: `its heartbeat object is ${Math.round(age / 1000)} s old, written every ${this.#o.aliveMs} ms` };
  }

  /**
   * Stops the heartbeat (its last PUT answered first), then writes 'closed'.
   * The rank that finds every rank closed removes the heartbeat objects.
   */
  async close(ms: number): Promise<void> {
    const { client, location: l, keys, size } = this.#o;
    await this.#beat?.stop(ms);
    await client.send(new PutObjectCommand({ Bucket: l.bucket, Key: keys.alive(this.#o.rank), Body: CLOSED }));
    const all: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: l.bucket, Prefix: keys.aliveDir(), ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        if (o.Size !== CLOSED.length && o.Size !== GONE.length) return;
        all.push(o.Key!);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    if (all.length === size) await deleteKeys(client, l.bucket, all);
  }
}
