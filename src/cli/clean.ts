import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import type { FmiConfig } from '../config/types.js';
import { cleanJob } from '../channels/s3/index.js';
import { jobPattern } from '../channels/redis/index.js';

/** `fmi clean --job ID --config fmi.json`: removes a crashed job's keys and objects. */
export async function cleanCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { job: { type: 'string' }, config: { type: 'string' } }, strict: true });
  if (!values.job || !values.config) {
    process.stderr.write('usage: fmi clean --job ID --config fmi.json\n');
    return 2;
  }
  const failed = await cleanBackends(loadConfig(values.config), values.job, (line) => process.stdout.write(`${line}\n`), (line) => process.stderr.write(`fmi clean: ${line}\n`));
  return failed ? 1 : 0;
}

/**
 * Deletes what job `job` left in the Redis and S3 backends `config` enables
 * (`fmi clean`, and `fmi run` after a failed job). Says what it deleted in
 * `say`, a backend that is down in `fail` (one line, no stack trace; the other
 * backend is still cleaned). `timeoutMs` bounds each S3 request (default:
 * the channel's). Resolves to whether a backend failed.
 */
export async function cleanBackends(config: FmiConfig, job: string, say: (line: string) => void, fail: (line: string) => void, timeoutMs?: number): Promise<boolean> {
  const { Redis: R, S3 } = config.backends;
  let failed = false;
  const attempt = async (what: string, fn: () => Promise<string>) => {
    try {
      say(await fn());
    } catch (err) {
      failed = true;
      fail(`${what}: ${(err as Error)?.message ?? String(err)}`);
    }
  };
  if (R?.enabled) {
    await attempt(`redis at ${R.url ?? `${R.host ?? '127.0.0.1'}:${R.port ?? 6379}`}`, async () => `redis: deleted ${await cleanRedisJob(R, job)} keys of job ${job}`);
  }
  if (S3?.enabled) {
    await attempt(`s3 bucket ${S3.bucket_name}${S3.endpoint ? ` at ${S3.endpoint}` : ''}`, async () => {
      const n = await cleanJob({ bucket: S3.bucket_name, endpoint: S3.endpoint, region: S3.s3_region, job, timeoutMs });
      return `s3: deleted ${n} objects of job ${job} from ${S3.bucket_name}`;
    });
  }
  if (!R?.enabled && !S3?.enabled) say('nothing to clean: neither Redis nor S3 is enabled in the config');
  return failed;
}

/** Deletes every key of `job` (a maintenance command: SCAN is fine here, never on the hot path). */
async function cleanRedisJob(r: { url?: string; host?: string; port?: number }, job: string): Promise<number> {
  const { Redis } = await import('ioredis');
  // One attempt: a maintenance command reports a server that is down instead of retrying forever.
  const o = { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 };
  const client = r.url ? new Redis(r.url, o) : new Redis({ host: r.host ?? '127.0.0.1', port: r.port ?? 6379, ...o });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  try {
    await client.connect().catch((err: Error) => {
      throw lastError ?? err;
    });
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', jobPattern(job), 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    client.disconnect();
  }
}
