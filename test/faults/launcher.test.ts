import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/index.js';
import { jobPattern } from '../../src/channels/redis/index.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { alive, fmiRun } from './job.js';

/**
 * `fmi run` of a job on the Redis channel whose rank is killed (kill -9)
 * mid-gather: the launcher stops the others, exits non-zero, and deletes the
 * keys the job left (the dead rank's, and those of ranks it stopped), so the
 * crash leaves nothing in Redis. (S3: test/faults/s3.test.ts.)
 */

let redis: RedisServer;
let admin: Redis;
const dir = mkdtempSync(join(tmpdir(), 'fmi-faults-launcher-'));
beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});
afterAll(async () => {
  admin.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('faults - fmi run on Redis', () => {
  it('kill -9 of a rank mid-gather: fmi run exits non-zero, no rank is left and no key of the job', async () => {
    const config = join(dir, 'redis.json');
    writeFileSync(config, JSON.stringify({ ...DEFAULT_CONFIG, backends: { Redis: { enabled: true, url: redis.url } } }));
    const run = await fmiRun({
      size: 3,
      args: ['--config', config, '--channel', 'redis'],
      env: { FMI_FAULT: 'gather-kill', FMI_FAULT_VICTIM: '1', FMI_FAULT_TERM: 'die' },
      limitMs: 30_000,
    });
    expect(run.codes[0]).not.toBe(0);
    expect(run.codes[0]).not.toBeNull();
    expect(run.stderr).toMatch(/fmi run: after the failed job, redis: deleted [1-9]\d* keys/);
    for (const r of run.ranks) expect(alive(r.pid!), `rank ${r.rank}`).toBe(false);
    const job = run.ranks.find((r) => r?.job)!.job!;
    expect(await admin.keys(jobPattern(job))).toEqual([]);
  });
});
