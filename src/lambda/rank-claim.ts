import type { ChannelName, FmiConfig } from '../config/types.js';
import { FmiError } from '../errors.js';

/**
 * A rank's claim in a job without a rendezvous server (Redis or S3 alone):
 * the first invocation of a rank writes it atomically before it runs any of
 * the user's code, and a second start of that rank (the launcher retried a
 * call whose first attempt ran after all, a late duplicate) finds it taken
 * and fails at once with FMI_RANK_TAKEN. With the direct channel the
 * rendezvous server does this: it refuses a second registration of a rank.
 *
 * Redis: `SET fmi:{job}:claim:<rank> <token> NX EX 3600`. S3: a PutObject of
 * `fmi/<job>/claim/<rank>` with `If-None-Match: *` (Ceph RGW and AWS S3
 * answer 412 when it exists). Claims outlive the job (Redis: an hour; S3:
 * until `fmi clean` or a lifecycle rule), so a duplicate that arrives after
 * the job ended does not run either. A claim whose write failed but landed
 * (a retried request) is recognized by its token.
 */
export class RankTakenError extends FmiError {
  constructor(message: string, rank: number) {
    super('FMI_RANK_TAKEN', message, { rank });
    this.name = 'RankTakenError';
  }
}

export type Store = 'redis' | 's3';

/** How long a claim may take when the caller gives no bound (the launcher's reads). */
const DEFAULT_TIMEOUT_MS = 5000;
/** As the Redis channel's keys (its ttlSeconds default); far beyond Lambda's 15 minutes. */
const CLAIM_TTL_SECONDS = 3600;

/** The stores the ranks of a job open, as its config and channel say (without a backend section a rank fails in init() anyway). */
export function jobStores(config: FmiConfig | undefined, channel: ChannelName | undefined): Store[] {
  const b = config?.backends;
  const open: Store[] = [];
  if (b?.Redis && (channel === 'redis' || (channel === undefined && b.Redis.enabled))) open.push('redis');
  if (b?.S3 && (channel === 's3' || (channel === undefined && b.S3.enabled))) open.push('s3');
  return open;
}

/** The store that holds the claims: one is enough to be atomic; Redis when the job has it (one round trip). */
export function claimStore(config: FmiConfig | undefined, channel: ChannelName | undefined): Store | undefined {
  return jobStores(config, channel)[0];
}

export function redisClaimKey(job: string, rank: number): string {
  // The Redis channel's job prefix (redis/keys.ts: jobPrefix), so a job's keys stay in one hash slot.
  return `fmi:{${encodeURIComponent(job)}}:claim:${rank}`;
}

export function s3ClaimKey(prefix: string, job: string, rank: number): string {
  // Beside the S3 channel's objects of the job (s3/wire.ts: Keys), so `fmi clean` removes it with them.
  return `${prefix}${job}/claim/${rank}`;
}

/**
 * Claims `ranks` of `job` for this invocation (`token`: its request id).
 * Resolves when every rank is this invocation's; throws RankTakenError when
 * one was claimed by another, or an FmiError (FMI_CHANNEL) when the store
 * cannot be reached (the rank could not have run anyway: its channel needs
 * the same store).
 */
export async function claimRanks(job: string, ranks: readonly number[], config: FmiConfig, store: Store, token: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  // One bound for loading the store's client, connecting and claiming: the rank's connect timeout (a busy machine loads ioredis slowly).
  const end = Date.now() + timeoutMs;
  const c = await open(store, config, timeoutMs);
  try {
    const held = await within(Promise.all(ranks.map((r) => c.claim(job, r, token))), 'claiming', Math.max(1, end - Date.now()));
    const taken = ranks.filter((_, i) => held[i] !== token);
    if (taken.length > 0) {
      const r = taken[0]!;
      throw new RankTakenError(
        `rank${taken.length > 1 ? 's' : ''} ${taken.join(', ')} of job ${job} started already in another invocation (${store} claim held by ${held[ranks.indexOf(r)] ?? 'an unknown invocation'}): ` +
          'a second start of a rank never runs its code (its launcher retried a call whose first attempt ran, or the invocation was sent twice)',
        r,
      );
    }
  } finally {
    c.close();
  }
}

/**
 * Who holds each claim: resolves to `token` when it is this invocation's,
 * else the holder's token; `null` (launcher side) when there is none.
 */
export async function claimHolder(job: string, rank: number, config: FmiConfig, store: Store, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string | null> {
  const c = await open(store, config, timeoutMs);
  try {
    return await within(c.holder(job, rank), 'reading a claim', timeoutMs);
  } finally {
    c.close();
  }
}

async function open(store: Store, config: FmiConfig, timeoutMs: number): Promise<Claimer> {
  const opening = store === 'redis' ? redisClaimer(config, timeoutMs) : s3Claimer(config, timeoutMs);
  try {
    return await within(opening, 'connecting', timeoutMs);
  } catch (err) {
    // Late, but it may still open: close it then.
    opening.then((c) => c.close(), () => {});
    throw err;
  }
}

interface Claimer {
  /** Claims the rank if free; resolves to the claim's holder (the token when it is ours). */
  claim(job: string, rank: number, token: string): Promise<string | null>;
  holder(job: string, rank: number): Promise<string | null>;
  close(): void;
}

async function redisClaimer(config: FmiConfig, timeoutMs: number): Promise<Claimer> {
  const { openClient } = await import('../channels/redis/client.js');
  const r = config.backends.Redis!;
  const c = await openClient({ url: r.url, host: r.host, port: r.port }, timeoutMs, { channel: 'redis', op: 'claim' });
  return {
    async claim(job, rank, token) {
      const key = redisClaimKey(job, rank);
      const ok = await c.set(key, token, 'EX', CLAIM_TTL_SECONDS, 'NX');
      return ok === 'OK' ? token : await c.get(key);
    },
    holder: (job, rank) => c.get(redisClaimKey(job, rank)),
    close: () => c.disconnect(),
  };
}

async function s3Claimer(config: FmiConfig, timeoutMs: number): Promise<Claimer> {
  const { makeClient, zeroCounts, httpStatus, DEFAULT_PREFIX } = await import('../channels/s3/client.js');
  const { GetObjectCommand, PutObjectCommand } = await import('@aws-sdk/client-s3');
  const s = config.backends.S3!;
  const client = makeClient({ bucket: s.bucket_name, endpoint: s.endpoint, region: s.s3_region, timeoutMs }, zeroCounts());
  const holder = async (job: string, rank: number): Promise<string | null> => {
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: s.bucket_name, Key: s3ClaimKey(DEFAULT_PREFIX, job, rank) }));
      return (await got.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw err;
    }
  };
  return {
    async claim(job, rank, token) {
      try {
        await client.send(new PutObjectCommand({ Bucket: s.bucket_name, Key: s3ClaimKey(DEFAULT_PREFIX, job, rank), Body: token, IfNoneMatch: '*' }));
        return token;
      } catch (err) {
        // 412: it exists (ours, if the SDK retried a PUT that had landed). 409: another conditional PUT of it is in flight.
        const status = httpStatus(err);
        if (status === 412) return await holder(job, rank);
        if (status === 409) return 'a concurrent invocation';
        throw err;
      }
    },
    holder,
    close: () => client.destroy(),
  };
}

async function within<T>(p: Promise<T>, what: string, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FmiError('FMI_CHANNEL', `rank claim: the store did not answer within ${ms} ms (${what})`, { op: 'claim' })), ms);
  });
  try {
    return await Promise.race([p, late]);
  } catch (err) {
    if (err instanceof FmiError) throw err;
    throw new FmiError('FMI_CHANNEL', `rank claim: ${what} failed: ${(err as Error).message}`, { op: 'claim', cause: err });
  } finally {
    clearTimeout(timer);
  }
}
