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
  if (R?.enabled) {
    const n = await cleanRedisJob(R, values.job);
    process.stdout.write(`redis: deleted ${n} keys of job ${values.job}\n`);
  }
  if (S3?.enabled) {
    const n = await cleanJob({ bucket: S3.bucket_name, endpoint: S3.endpoint, region: S3.s3_region, job: values.job });
    process.stdout.write(`s3: deleted ${n} objects of job ${values.job} from ${S3.bucket_name}\n`);
  }
  if (!R?.enabled && !S3?.enabled) process.stdout.write('nothing to clean: neither Redis nor S3 is enabled in the config\n');
  return 0;
}

/** Deletes every key of `job` (a maintenance command: SCAN is fine here, never on the hot path). */
async function cleanRedisJob(r: { url?: string; host?: string; port?: number }, job: string): Promise<number> {
  const { Redis } = await import('ioredis');
  const client = r.url ? new Redis(r.url, { lazyConnect: true }) : new Redis({ host: r.host ?? '127.0.0.1', port: r.port ?? 6379, lazyConnect: true });
  try {
    await client.connect();
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
