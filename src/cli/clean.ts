import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { cleanJob } from '../channels/s3/index.js';
import { jobPattern } from '../channels/redis/index.js';

/** `fmi clean --job ID --config fmi.json`: removes a crashed job's keys and objects. */
export async function cleanCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { job: { type: 'string' }, config: { type: 'string' } }, strict: true });
  if (!values.job || !values.config) {
    process.stderr.write('usage: fmi clean --job ID --config fmi.json\n');
    return 2;
  }
  const config = loadConfig(values.config);
  const { Redis: R, S3 } = config.backends;
  let failed = false;
  // A backend that is down is one line saying so, not a stack trace; the other backend is still cleaned.
  const attempt = async (what: string, fn: () => Promise<string>) => {
    try {
      process.stdout.write(`${await fn()}\n`);
    } catch (err) {
      failed = true;
      process.stderr.write(`fmi clean: ${what}: ${(err as Error)?.message ?? String(err)}\n`);
    }
  };
  if (R?.enabled) {
    await attempt(`redis at ${R.url ?? `${R.host ?? '127.0.0.1'}:${R.port ?? 6379}`}`, async () => `redis: deleted ${await cleanRedisJob(R, values.job!)} keys of job ${values.job}`);
  }
  if (S3?.enabled) {
    await attempt(`s3 bucket ${S3.bucket_name}${S3.endpoint ? ` at ${S3.endpoint}` : ''}`, async () => {
      const n = await cleanJob({ bucket: S3.bucket_name, endpoint: S3.endpoint, region: S3.s3_region, job: values.job! });
      return `s3: deleted ${n} objects of job ${values.job} from ${S3.bucket_name}`;
    });
  }
  if (!R?.enabled && !S3?.enabled) process.stdout.write('nothing to clean: neither Redis nor S3 is enabled in the config\n');
  return failed ? 1 : 0;
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
