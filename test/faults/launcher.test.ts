import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../src/index.js';
import { jobPattern } from '../../src/channels/redis/index.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { randomUUID } from 'node:crypto';
import { alive, expectFailedTyped, fmiRun, rankProcesses, SLACK_MS } from './job.js';

/**
 * A job on the Redis channel whose rank is killed (kill -9) mid-gather or
 * mid-bcast. Under `fmi run` the launcher stops the others, exits non-zero,
 * and deletes the keys the job left (the dead rank's, and those of ranks it
 * stopped), so the crash leaves nothing in Redis. As rank processes of their
 * own, the others fail with FMI_PEER_LOST once the victim's heartbeat stops.
 * (S3: test/faults/s3.test.ts.)
 */

// Dead after 3 heartbeat periods of silence, + up to a period until the next check.
const ALIVE_MS = 1000;
const DETECT_MS = 5 * ALIVE_MS;

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

  it('kill -9 of a reader mid-bcast: the others fail with FMI_PEER_LOST within their bound, exit, and leave no key', async () => {
    const job = randomUUID();
    const run = await rankProcesses({
      size: 3,
      env: { FMI_ALIVE_MS: String(ALIVE_MS), FMI_FAULT: 'bcast-kill', FMI_FAULT_VICTIM: '1', FMI_JOB: job, FMI_CONFIG: configFile(), FMI_CHANNEL: 'redis' },
      limitMs: 40_000,
    });
    expect([run.codes[0], run.codes[2]]).toEqual([3, 3]);
    // Killed, unless on a starved machine its heartbeat came late and it failed (typed) first.
    expect([null, 3]).toContain(run.codes[1]);
    expectFailedTyped(run, ['FMI_PEER_LOST'], DETECT_MS + SLACK_MS, [1]);
    // The last survivor to close removes the job's keys, the dead rank's too.
    expect(await admin.keys(jobPattern(job))).toEqual([]);
  });

  it('kill -9 of a reader mid-bcast under fmi run: it exits non-zero, no rank is left and no key of the job', async () => {
    const run = await fmiRun({
      size: 3,
      args: ['--config', configFile(), '--channel', 'redis'],
      env: { FMI_FAULT: 'bcast-kill', FMI_FAULT_VICTIM: '1', FMI_FAULT_TERM: 'die' },
      // A bound on a hang, not a speed check: at load 45 this job took over 30 s.
      limitMs: 80_000,
    });
    expect(run.codes[0]).not.toBe(0);
    expect(run.codes[0]).not.toBeNull();
    for (const r of run.ranks) expect(alive(r.pid!), `rank ${r.rank}`).toBe(false);
    const job = run.ranks.find((r) => r?.job)!.job!;
    expect(await admin.keys(jobPattern(job))).toEqual([]);
  }, 100_000);
});

function configFile(): string {
  const file = join(dir, `${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify({ ...DEFAULT_CONFIG, backends: { Redis: { enabled: true, url: redis.url } } }));
  return file;
}
