import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobResult } from '../../src/lambda/index.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { ALIVE, CREDENTIALS, doubles, JOB, job, s3Env, storeConfig } from './job-setup.js';

/*
 * Ranks that fail outside their own code, in the Invoke API test double with
 * real ranks: one that never starts in a job over Redis or S3 alone (no
 * rendezvous server to tell the others: the launcher's record in the store
 * does), and one whose Invoke call fails after it started (its result is
 * lost; it must not run again).
 */

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
// After redis's hooks: the doubles close first (after-hooks run last-registered first).
const double = doubles();
const config = (store: 'redis' | 's3') => storeConfig(store, redis.port);

const peerLost = (r: JobResult, ranks: number[]) => {
  for (const k of ranks) expect(r.ranks[k], JSON.stringify(r.ranks[k]!.error)).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
};

describe('lambda - a rank that never starts, in a job without a rendezvous server', () => {
  for (const store of ['redis', 's3'] as const) {
    it(`over ${store} alone: the launcher's record in the store fails the others with FMI_PEER_LOST, long before their deadline`, async () => {
      const env = store === 's3' ? { ...ALIVE, ...s3Env() } : ALIVE;
      const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000, env } }, neverStart: [2] });
      const r = await job(d, { functionName: 'f', ranks: 4, config: config(store), retry: { attempts: 3, baseDelayMs: 20 } });
      expect(r.ranks[2]).toMatchObject({ status: 'not started', attempts: 3, error: { code: 'TooManyRequestsException' } });
      peerLost(r, [0, 1, 3]);
      // At least the ranks waiting on rank 2 itself heard it from the launcher, not from a heartbeat.
      expect(r.ranks.some((o) => /rank 2 died \(its launcher gave it up/.test(o.error?.message ?? ''))).toBe(true);
      expect(r.warnings).toEqual([]);
    }, 120_000);
  }
});

describe('lambda - an Invoke call that fails after its rank started', () => {
  it('direct channel: the rank is "crashed", called once even with maxAttempts 4 in the client config, and the others fail with FMI_PEER_LOST', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000 } }, dropOnLog: { 1: 'rank 1 stalls' } });
    const r = await job(d, {
      functionName: 'f',
      ranks: 3,
      input: { stallRank: 1, stallMs: 600_000 },
      connectTimeoutMs: 500_000,
      retry: { baseDelayMs: 20 },
      // The SDK would send the call again on a dropped connection (it reports it as a TimeoutError); the launcher must not let it.
      clientConfig: { credentials: CREDENTIALS, maxAttempts: 4 },
    });
    expect(r.ranks[1]).toMatchObject({ status: 'crashed', attempts: 1, error: { code: expect.stringMatching(/^(ECONNRESET|TimeoutError)$/) } });
    expect(d.calls.filter((c) => c.rank === 1)).toHaveLength(1);
    peerLost(r, [0, 2]);
  }, 120_000);

  it('over Redis alone: the launcher sees the rank started in the store, so it neither runs it again nor waits for it', async () => {
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000, env: ALIVE } }, dropOnLog: { 1: 'rank 1 stalls' } });
    const r = await job(d, { functionName: 'f', ranks: 3, config: config('redis'), input: { stallRank: 1, stallMs: 600_000 }, retry: { baseDelayMs: 20 } });
    expect(r.ranks[1]).toMatchObject({ status: 'crashed', attempts: 1, error: { code: expect.stringMatching(/^(ECONNRESET|TimeoutError)$/) } });
    expect(d.calls.filter((c) => c.rank === 1)).toHaveLength(1);
    peerLost(r, [0, 2]);
  }, 120_000);
});
