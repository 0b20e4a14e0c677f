import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { init, Op, RendezvousServer, type Communicator, type Endpoint } from '../src/index.js';
import { DEFAULT_CONFIG } from '../src/config/index.js';
import type { FmiConfig } from '../src/config/types.js';
import { Policy } from '../src/model/index.js';
import { startRedis } from './helpers/redis-server.js';
import { range } from './helpers/world.js';

let redis: Awaited<ReturnType<typeof startRedis>>;
let server: RendezvousServer;
let addr: Endpoint;
beforeAll(async () => {
  redis = await startRedis();
  server = new RendezvousServer();
  addr = await server.listen();
});
afterAll(async () => {
  await server?.close();
  await redis?.stop();
});

/** The reference's prices, with Direct and a real Redis enabled. */
const config = (): FmiConfig => ({
  ...DEFAULT_CONFIG,
  backends: { Direct: { enabled: true }, Redis: { enabled: true, url: redis.url } },
});

async function world<T>(size: number, fn: (c: Communicator) => Promise<T>, extra: Record<string, unknown> = {}): Promise<T[]> {
  const job = randomUUID();
  const comms = await Promise.all(range(size).map((rank) => init({ rank, size, job, rendezvous: addr, env: {}, config: config(), ...extra })));
  try {
    return await Promise.all(comms.map(fn));
  } finally {
    await Promise.all(comms.map((c) => c.close()));
  }
}

describe('channel choice - the policy picks per operation, the same on every rank', () => {
  it('each collective runs on the channel the model picks for its op, size and hint', async () => {
    const size = 3;
    const policy = new Policy(config(), { ranks: size, channels: ['direct', 'redis'] });
    const sizes = [8, 64 * 1024, 4 * 1024 * 1024];
    const expected: Record<string, string[]> = { fast: [], cheap: [] };
    for (const hint of ['fast', 'cheap'] as const) for (const b of sizes) expected[hint]!.push(policy.choose('allreduce', b, hint).channel);
    // The defaults must make the hints disagree somewhere, or this test proves nothing.
    expect(new Set([...expected.fast!, ...expected.cheap!]).size).toBe(2);

    const stats = await world(size, async (c) => {
      const used: Record<string, string[]> = { fast: [], cheap: [] };
      for (const hint of ['fast', 'cheap'] as const) {
        c.hint(hint);
        for (const b of sizes) {
          const before = c.stats().allreduce?.channels ?? {};
          const v = await c.allreduce(new Float64Array(b / 8).fill(c.rank + 1), Op.SUM);
          expect(v[v.length - 1]).toBe(6);
          const after = c.stats().allreduce!.channels;
          used[hint]!.push(Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0))!);
        }
      }
      return { used, stats: c.stats() };
    });
    for (const s of stats) expect(s.used).toEqual(expected);
    const a = stats[0]!.stats.allreduce!;
    expect(a.calls).toBe(6);
    expect(a.bytes).toBe(2 * sizes.reduce((x, y) => x + y, 0));
    expect(a.modeledCostUsd).toBeGreaterThan(0);
  });

  it('a bcast follows the model when every rank passes its size; a barrier too', async () => {
    const size = 4;
    const policy = new Policy(config(), { ranks: size, channels: ['direct', 'redis'], hint: 'cheap' });
    const bytes = 1024;
    const want = policy.choose('bcast', bytes).channel;
    const out = await world(size, async (c) => {
      c.hint('cheap');
      const v = await c.bcast(c.rank === 2 ? new Uint8Array(bytes).fill(9) : undefined, 2, { bytes });
      await c.barrier();
      return { v, s: c.stats() };
    });
    for (const { v, s } of out) {
      expect(v).toEqual(new Uint8Array(bytes).fill(9));
      expect(Object.keys(s.bcast!.channels)).toEqual([want]);
      expect(Object.keys(s.barrier!.channels)).toEqual([policy.choose('barrier', 0).channel]);
    }
  });

  it('a forced channel carries everything, point to point included', async () => {
    const out = await world(3, async (c) => {
      expect(c.channels).toEqual(['redis']);
      await c.send(`hi from ${c.rank}`, (c.rank + 1) % 3);
      const m = await c.recv((c.rank + 2) % 3);
      const r = await c.allreduce(new Float64Array(1 << 16).fill(1), Op.SUM);
      const g = await c.gather({ r: c.rank }, 1);
      return { m, r: r[0], g, s: c.stats() };
    }, { channel: 'redis' });
    out.forEach(({ m, r, g, s }, rank) => {
      expect(m).toBe(`hi from ${(rank + 2) % 3}`);
      expect(r).toBe(3);
      if (rank === 1) expect(g).toEqual([{ r: 0 }, { r: 1 }, { r: 2 }]);
      for (const op of Object.values(s)) expect(Object.keys(op.channels)).toEqual(['redis']);
    });
  });

  it('bad hints and channels are typed errors', async () => {
    await expect(init({ env: {}, channel: 'pigeon' as never })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    await expect(init({ env: {}, hint: 'slow' as never })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    const c = await init({ env: {} });
    expect(() => c.hint('slow' as never)).toThrow(expect.objectContaining({ code: 'MPI_ERR_ARG' }));
    expect(c.hint()).toBe('fast');
    await c.close();
  });
});

describe('channel choice - S3 for rare operations with the cheap hint', () => {
  it('picks what the model picks, S3 among them, and the results are right', async () => {
    const { s3Server } = await import('./helpers/rgw.js');
    const s3 = s3Server();
    // Credentials come from the AWS chain, as in production.
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    const cfg: FmiConfig = {
      ...DEFAULT_CONFIG,
      backends: { Direct: { enabled: true }, S3: { enabled: true, bucket_name: s3.bucket, s3_region: s3.region, endpoint: s3.endpoint } },
    };
    const size = 3;
    const policy = new Policy(cfg, { ranks: size, channels: ['direct', 's3'], hint: 'cheap' });
    const sizes = [16, 1 << 20];
    const want = sizes.map((b) => policy.choose('bcast', b).channel);
    expect(want).toContain('s3');
    const job = randomUUID();
    const comms = await Promise.all(range(size).map((rank) => init({ rank, size, job, rendezvous: addr, env: {}, config: cfg, hint: 'cheap' })));
    try {
      const used = await Promise.all(comms.map(async (c) => {
        const out: string[] = [];
        for (const b of sizes) {
          const before = c.stats().bcast?.channels ?? {};
          const v = await c.bcast(c.rank === 0 ? new Uint8Array(b).fill(7) : undefined, 0, { bytes: b });
          expect(v.length).toBe(b);
          expect(v[b - 1]).toBe(7);
          const after = c.stats().bcast!.channels;
          out.push(Object.keys(after).find((k) => (after[k] ?? 0) > (before[k] ?? 0))!);
        }
        return out;
      }));
      for (const u of used) expect(u).toEqual(want);
    } finally {
      await Promise.all(comms.map((c) => c.close()));
    }
  });
});

describe('channel choice - stats price what ran', () => {
  it('a ring allreduce is priced as a ring, recursive doubling as recursive doubling', async () => {
    const size = 3;
    const bytes = 8 * 1024;
    const policy = new Policy(DEFAULT_CONFIG, { ranks: size, channels: ['direct'] });
    const ring = policy.estimate('direct', 'allreduce', bytes, { directAllreduce: 'ring' }).cost_usd;
    const rd = policy.estimate('direct', 'allreduce', bytes).cost_usd;
    expect(ring).not.toBe(rd);
    const stats = await world(size, async (c) => {
      await c.allreduce(new Float64Array(bytes / 8), Op.SUM, { algorithm: 'ring' });
      const afterRing = c.stats().allreduce!.modeledCostUsd;
      await c.allreduce(new Float64Array(bytes / 8), Op.SUM, { algorithm: 'recursive-doubling' });
      return [afterRing, c.stats().allreduce!.modeledCostUsd - afterRing];
    }, { config: DEFAULT_CONFIG, channel: 'direct' });
    for (const [r, d] of stats) {
      expect(r).toBeCloseTo(ring, 12);
      expect(d).toBeCloseTo(rd, 12);
    }
  });
});

describe('channel choice - the algorithm direct would run', () => {
  it('a large allreduce is chosen by what the ring costs on direct, not recursive doubling', async () => {
    const size = 3;
    const bytes = 32 * 1024 * 1024;
    const policy = new Policy(config(), { ranks: size, channels: ['direct', 'redis'], hint: 'cheap' });
    const want = policy.choose('allreduce', bytes, 'cheap', { directAllreduce: 'ring' }).channel;
    // Where the two models disagree, or this test proves nothing.
    expect(policy.choose('allreduce', bytes, 'cheap', { directAllreduce: 'recursive-doubling' }).channel).not.toBe(want);
    const used = await world(size, async (c) => {
      c.hint('cheap');
      const v = await c.allreduce(new Float64Array(bytes / 8).fill(1), Op.SUM);
      expect(v[v.length - 1]).toBe(size);
      return Object.keys(c.stats().allreduce!.channels);
    });
    for (const u of used) expect(u).toEqual([want]);
  });
});

/** Rank 0's synchronous send completes only after rank 1, which has the message (probed), receives it. */
async function synchronousSend(c: Communicator): Promise<void> {
  if (c.rank === 0) {
    const sync = c.isend(Float32Array.of(1.5, 2.5), 1, { tag: 3, synchronous: true });
    expect(await c.recv(1, { tag: 4 })).toBe('probed');
    expect(sync.test()).toBe(false);
    await c.send('go', 1, { tag: 5 });
    await sync.wait();
  } else {
    await c.probe(0, { tag: 3 });
    await c.send('probed', 0, { tag: 4 });
    await c.recv(0, { tag: 5 });
    expect(await c.recv(0, { tag: 3 })).toEqual(Float32Array.of(1.5, 2.5));
  }
}

describe('channel choice - synchronous sends over a storage channel', () => {
  it('over Redis, a synchronous send waits for the matching receive and the data is intact', async () => {
    await world(2, synchronousSend, { channel: 'redis' });
  });

  it('over S3 too', async () => {
    const { s3Server } = await import('./helpers/rgw.js');
    const s3 = s3Server();
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    const cfg: FmiConfig = { ...DEFAULT_CONFIG, backends: { S3: { enabled: true, bucket_name: s3.bucket, s3_region: s3.region, endpoint: s3.endpoint } } };
    await world(2, synchronousSend, { config: cfg, channel: 's3' });
  });
});
