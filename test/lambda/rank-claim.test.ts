import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { ALIVE, doubles, JOB, job, s3Env, storeConfig, type Double } from './job-setup.js';

/*
 * A rank is never run twice in a job over Redis or S3 alone (no rendezvous
 * server to refuse a second registration): the first start of a rank claims
 * it in the store (SET NX; PutObject If-None-Match), and a second start fails
 * at once with FMI_RANK_TAKEN without running the user's code. The double
 * loses the connection of a rank's first call before the function starts
 * (loseFirst), so the launcher, seeing no sign of the rank, calls again.
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

/** The functions' environment over `store`. */
const envFor = (store: 'redis' | 's3'): Record<string, string> => (store === 'redis' ? ALIVE : { ...ALIVE, ...s3Env() });

/** How many times rank `rank`'s code ran, over every invocation the double made. */
const runsOf = (d: Double, rank: number) => d.calls.flatMap((c) => c.log ?? []).filter((l) => l === `rank ${rank} runs`).length;

describe('lambda - a rank started twice runs once', () => {
  for (const store of ['redis', 's3'] as const) {
    it(`over ${store} alone: the retry runs the rank; the lost first call, started late, fails at once with FMI_RANK_TAKEN`, async () => {
      const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000, env: envFor(store) } }, loseFirst: { 1: 'hold' } });
      const r = await job(d, { functionName: 'f', ranks: 3, config: config(store), retry: { baseDelayMs: 20 } });
      expect(r.ranks.map((o) => o.status), JSON.stringify(r.ranks.map((o) => o.error))).toEqual(['ok', 'ok', 'ok']);
      expect(r.ranks[1]!.attempts).toBe(2);
      expect(r.ranks.map((o) => (o.result as { sum: number }).sum)).toEqual([3, 3, 3]);
      // The first call's function starts now (Lambda ran it after all, late): it finds the rank claimed.
      const late = await d.release(1);
      expect(late.lost).toBe(true);
      expect(late.answer).toMatchObject({ rank: 1, ok: false, error: { code: 'FMI_RANK_TAKEN', message: expect.stringContaining('started already in another invocation') } });
      expect(late.log!.some((l) => l.includes('rank 1 runs'))).toBe(false);
      expect(runsOf(d, 1)).toBe(1);
    }, 120_000);
  }

  it('over Redis alone: the lost first call starts at once and runs the rank; the rank is "crashed", never run a second time', async () => {
    // The retry's function starts only once the lost call's runs rank 1 (so has claimed it): else, on a loaded
    // machine where the lost call took seconds to load, the retry claimed the rank first and stalled for 600 s.
    const d = await double({ functions: { f: { module: JOB, timeoutMs: 600_000, env: ALIVE } }, loseFirst: { 1: 'run' }, firstLogs: { 1: 'rank 1 runs' } });
    const r = await job(d, { functionName: 'f', ranks: 3, config: config('redis'), input: { stallRank: 1, stallMs: 600_000 }, retry: { baseDelayMs: 20 } });
    // The launcher either saw the claim (no second call) or called again and was told FMI_RANK_TAKEN.
    expect(r.ranks[1], JSON.stringify(r.ranks[1])).toMatchObject({ status: 'crashed', error: { code: expect.stringMatching(/^(ECONNRESET|FMI_RANK_TAKEN)$/) } });
    const second = d.calls.filter((c) => c.rank === 1 && !c.lost);
    for (const c of second) expect(c.answer).toMatchObject({ ok: false, error: { code: 'FMI_RANK_TAKEN' } });
    expect(runsOf(d, 1)).toBe(1);
    for (const k of [0, 2]) expect(r.ranks[k], JSON.stringify(r.ranks[k]!.error)).toMatchObject({ status: 'error', error: { code: 'FMI_PEER_LOST' } });
  }, 120_000);
});
