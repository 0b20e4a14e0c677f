import type { ChannelName, FmiConfig } from '../config/types.js';
import { jobStores, redisClaimKey, s3ClaimKey, type Store } from './rank-claim.js';

interface S3Place {
  client: import('@aws-sdk/client-s3').S3Client;
  bucket: string;
  key: (rank: number) => string;
  claim: (rank: number) => string;
}

/** How long one record's write may take: a store the launcher cannot reach must not hold the job up. */
// 15 s, not less: at a load average of 45 here, loading ioredis and connecting took over 5 s, and
// the ranks then waited for their deadline instead of hearing of the rank given up.
const WRITE_TIMEOUT_MS = 15_000;
/** As the Redis channel's keys (its ttlSeconds default). */
const REDIS_TTL_SECONDS = 3600;

/**
 * What the launcher reads and writes of its ranks in a job's storage
 * channels: whether a rank started, and that a rank will never come.
 *
 * Ranks that talk over Redis or S3 alone never dial the rendezvous server, so
 * the launcher's word there does not reach them. Instead the launcher writes
 * what the channels' liveness checks already read (redis/liveness.ts,
 * s3/liveness.ts): `st:<rank>` = 'gone' in Redis, `alive/<rank>` = 'gone' in
 * S3. A rank waiting on that peer fails with FMI_PEER_LOST at its next check
 * (every aliveMs/2 for Redis, aliveMs for S3), not at its deadline.
 *
 * The stores (and their modules: a launcher of direct-channel jobs never
 * loads them) are opened when first needed (a rank given up, or a transient
 * error to look into), never in a job where all went well. A write that fails (the launcher cannot reach the
 * store: an ElastiCache inside a VPC) is returned as a warning: the ranks
 * then wait until their deadline.
 */
export class RankRecords {
  readonly #job: string;
  readonly #stores: Store[];
  readonly #config: FmiConfig | undefined;
  #redis: Promise<import('ioredis').Redis> | undefined;
  #s3: Promise<S3Place> | undefined;

  constructor(job: string, config: FmiConfig | undefined, channel: ChannelName | undefined) {
    this.#job = job;
    this.#config = config;
    this.#stores = jobStores(config, channel);
  }

  /** Whether the job has a storage channel to write to. */
  get any(): boolean {
    return this.#stores.length > 0;
  }

  /** Writes `rank`'s record in every store of the job; resolves to what could not be written (never rejects). */
  async giveUp(rank: number): Promise<string[]> {
    const warnings: string[] = [];
    await Promise.all(
      this.#stores.map(async (store) => {
        try {
          await within(store === 'redis' ? this.#redisGone(rank) : this.#s3Gone(rank), WRITE_TIMEOUT_MS, store);
        } catch (err) {
          warnings.push(`could not tell the ranks over ${store} that rank ${rank} is gone (${(err as Error).message}): they wait until their deadline`);
        }
      }),
    );
    return warnings;
  }

  /**
   * Whether `rank` has started, as its records in the stores say (its claim,
   * rank-claim.ts; its state key, its heartbeat object): true if any store has one, false if none
   * has, undefined if a store could not be asked (then it may have).
   */
  async started(rank: number): Promise<boolean | undefined> {
    const seen = await Promise.all(
      this.#stores.map((store) => within(store === 'redis' ? this.#redisStarted(rank) : this.#s3Started(rank), WRITE_TIMEOUT_MS, store).catch(() => undefined)),
    );
    if (seen.includes(true)) return true;
    return seen.includes(undefined) ? undefined : false;
  }

  async close(): Promise<void> {
    const r = this.#redis;
    const s = this.#s3;
    this.#redis = this.#s3 = undefined;
    await Promise.all([r?.then((c) => c.disconnect(), () => {}), s?.then((x) => x.client.destroy(), () => {})]);
  }

  #openRedis(): Promise<import('ioredis').Redis> {
    this.#redis ??= (async () => {
      const { openClient } = await import('../channels/redis/client.js');
      const r = this.#config!.backends.Redis!;
      return openClient({ url: r.url, host: r.host, port: r.port }, WRITE_TIMEOUT_MS, { channel: 'redis' });
    })();
    return this.#redis;
  }

  async #redisStarted(rank: number): Promise<boolean> {
    const c = await this.#openRedis();
    const { jobKeys } = await import('../channels/redis/keys.js');
    const { GONE_STATE } = await import('../channels/redis/liveness.js');
    const [claim, state] = await Promise.all([c.get(redisClaimKey(this.#job, rank)), c.get(jobKeys(this.#job).state(rank))]);
    return claim !== null || (state !== null && state !== GONE_STATE);
  }

  async #redisGone(rank: number): Promise<void> {
    const c = await this.#openRedis();
    const { jobKeys } = await import('../channels/redis/keys.js');
    const { GONE_STATE } = await import('../channels/redis/liveness.js');
    // A rank that closed after all keeps its 'closed': it left cleanly, and the last one out cleans up by it.
    const script = "if redis.call('GET', KEYS[1]) ~= 'closed' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 1";
    await c.eval(script, 1, jobKeys(this.#job).state(rank), GONE_STATE, String(REDIS_TTL_SECONDS));
  }

  async #s3Started(rank: number): Promise<boolean> {
    const { client, bucket, key, claim } = await this.#openS3();
    const { HeadObjectCommand } = await import('@aws-sdk/client-s3');
    const { GONE } = await import('../channels/s3/liveness.js');
    const head = async (k: string) => {
      try {
        return (await client.send(new HeadObjectCommand({ Bucket: bucket, Key: k }))).ContentLength;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
        throw err;
      }
    };
    const [claimed, alive] = await Promise.all([head(claim(rank)), head(key(rank))]);
    return claimed !== undefined || (alive !== undefined && alive !== GONE.length);
  }

  #openS3(): Promise<S3Place> {
    this.#s3 ??= (async () => {
      const { makeClient, zeroCounts, DEFAULT_PREFIX } = await import('../channels/s3/client.js');
      const { Keys } = await import('../channels/s3/wire.js');
      const s = this.#config!.backends.S3!;
      const client = makeClient({ bucket: s.bucket_name, endpoint: s.endpoint, region: s.s3_region, timeoutMs: WRITE_TIMEOUT_MS }, zeroCounts());
      const keys = new Keys(DEFAULT_PREFIX, this.#job);
      return { client, bucket: s.bucket_name, key: (r: number) => keys.alive(r), claim: (r: number) => s3ClaimKey(DEFAULT_PREFIX, this.#job, r) };
    })();
    return this.#s3;
  }

  async #s3Gone(rank: number): Promise<void> {
    const { client, bucket, key } = await this.#openS3();
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { GONE } = await import('../channels/s3/liveness.js');
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key(rank), Body: GONE }));
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
