import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelFactory } from '../../src/channels/channel.js';
import { jobKeys } from '../../src/channels/redis/keys.js';
import { HEADER_BYTES, writeHeader } from '../../src/channels/redis/frame.js';
import { jobPattern, RedisChannel, redisChannel, type RedisChannelOptions } from '../../src/channels/redis/index.js';
import { freePort, startRedis, type RedisServer } from '../helpers/redis-server.js';
import { channelCompliance } from './compliance.js';

let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await startRedis();
  admin = new Redis(server.url);
});
afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

const keysOf = (job: string) => admin.keys(jobPattern(job));
/** The job's keys but the ranks' liveness keys (heartbeat and state) and processing lists, which live as long as the ranks. */
const dataKeys = async (job: string) => (await keysOf(job)).filter((k) => !/:(alive|st|pr):\d+$/.test(k));
const factory: ChannelFactory = (o) => redisChannel({ url: server.url })(o);

channelCompliance('redis', factory, { leftovers: keysOf });

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const env = (tag: number, kind = 11) => ({ ctx: 0, tag, kind });

/** Channels of one job, ranks 0..size-1, closed afterwards. */
async function withJob<T>(size: number, fn: (chs: RedisChannel[], job: string) => Promise<T>, o: Partial<RedisChannelOptions> = {}, job = randomUUID()): Promise<T> {
  const chs = await Promise.all(range(size).map((rank) => RedisChannel.create({ url: server.url, job, rank, size, ...o })));
  try {
    return await fn(chs, job);
  } finally {
    await Promise.all(chs.map((c) => c.close()));
  }
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

describe('redis - chunking', () => {
  it('messages several chunks long from two senders at once arrive intact and in order', async () => {
    await withJob(3, async ([r0, r1, r2]) => {
      const sizes = [0, 1, 999, 1000, 1001, 7 * 1000 + 13, 64 * 1024];
      const sends = [r1!, r2!].flatMap((c) => sizes.map((n, i) => c.send(0, env(5), pattern(n, c.rank * 100 + i))));
      const recvs = [1, 2].map(async (source) => {
        for (const [i, n] of sizes.entries()) {
          const m = await r0!.recv({ source, ctx: 0, tag: 5 });
          expect(m.data).toEqual(pattern(n, source * 100 + i));
        }
      });
      await Promise.all([...sends, ...recvs]);
    }, { chunkBytes: 1000 });
  });

  it('chunks of two senders interleaved in the inbox are reassembled per source', async () => {
    await withJob(3, async ([r0], job) => {
      const inbox = jobKeys(job).inbox(0);
      const payload = (source: number) => pattern(2500, source);
      const frame = (source: number, index: number) => {
        const chunk = payload(source).subarray(index * 1000, Math.min(2500, (index + 1) * 1000));
        const b = Buffer.alloc(HEADER_BYTES + chunk.length);
        writeHeader(b, { kind: 11, source, ctx: 0, tag: 1, index, count: 3, total: 2500, seq: 1 });
        b.set(chunk, HEADER_BYTES);
        return b;
      };
      // What two senders pushing chunk by chunk (no transaction) could produce.
      await admin.rpush(inbox, frame(1, 0), frame(2, 0), frame(2, 1), frame(1, 1), frame(1, 2), frame(2, 2));
      const [a, b] = await Promise.all([r0!.recv({ source: 1, ctx: 0, tag: 1 }), r0!.recv({ source: 2, ctx: 0, tag: 1 })]);
      expect(a.data).toEqual(payload(1));
      expect(b.data).toEqual(payload(2));
    }, { chunkBytes: 1000 });
  });

  it('a damaged frame fails the receives that wait on its sender with FMI_PROTOCOL', async () => {
    await withJob(2, async ([r0], job) => {
      const b = Buffer.alloc(HEADER_BYTES + 10);
      writeHeader(b, { kind: 11, source: 1, ctx: 0, tag: 1, index: 1, count: 3, total: 3000, seq: 1 });
      const failed = expect(r0!.recv({ source: 1, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_PROTOCOL', channel: 'redis', peer: 1 });
      await admin.rpush(jobKeys(job).inbox(0), b);
      await failed;
    });
  });
});

describe('redis - keys', () => {
  it('every key the channel creates carries a TTL', async () => {
    // Rank 3 of the job never starts, so its inbox stays.
    await withJob(3, async ([r0, r1, r2], job) => {
      await r0!.send(3, env(1), new Uint8Array(10));
      await r0!.put('small', 11, new Uint8Array(100), 2);
      await r0!.put('large', 11, pattern(3500, 1), 2); // 4 chunks: head, chunk list, counter
      expect((await r1!.get('large')).data).toEqual(pattern(3500, 1)); // the counter is rewritten by a read
      await r2!.send(3, env(1), new Uint8Array(2500));
      const keys = await keysOf(job);
      const k = jobKeys(job);
      const liveness = [0, 1, 2].flatMap((r) => [k.alive(r), k.state(r), k.processing(r)]);
      const values = [k.head('small'), k.readsDue('small'), k.head('large'), k.chunks('large'), k.readsDue('large'), k.readBy('large')];
      expect(keys.sort()).toEqual([k.inbox(3), ...values, ...liveness].sort());
      for (const key of keys) {
        const ttl = await admin.ttl(key);
        expect(ttl, key).toBeGreaterThan(0);
        expect(ttl, key).toBeLessThanOrEqual(120);
      }
    }, { ttlSeconds: 120, chunkBytes: 1000, size: 4 });
  });

  it('two jobs with the same ranks, tags and keys do not interfere', async () => {
    const run = (job: string, seed: number) =>
      withJob(2, async ([r0, r1]) => {
        for (let i = 0; i < 20; i++) {
          const [, got] = await Promise.all([r0!.send(1, env(3), pattern(64, seed + i)), r1!.recv({ source: 0, ctx: 0, tag: 3 })]);
          expect(got.data).toEqual(pattern(64, seed + i));
          const [, v] = await Promise.all([r1!.put(`k${i % 3}`, 11, pattern(32, seed - i), 1), r0!.get(`k${i % 3}`)]);
          expect(v.data).toEqual(pattern(32, seed - i));
        }
      }, {}, job);
    // Job ids that would collide if they were pasted into keys unescaped.
    await Promise.all([run('a', 1), run('a:in:1', 50), run('{a}', 100), run(randomUUID(), 150)]);
  });

  it("a killed rank's keys expire after the TTL", async () => {
    const job = randomUUID();
    const dist = new URL('../../dist/channels/redis/index.js', import.meta.url).href;
    const script = `
      const { RedisChannel } = await import(${JSON.stringify(dist)});
      const ch = await RedisChannel.create({ url: ${JSON.stringify(server.url)}, job: ${JSON.stringify(job)}, rank: 0, size: 2, ttlSeconds: 1, chunkBytes: 1000, aliveMs: 1000 });
      await ch.send(1, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array(5000));
      await ch.put('v', 11, new Uint8Array(5000), 3);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
    });
    child.kill('SIGKILL');
    expect((await keysOf(job)).length).toBe(7); // inbox of rank 1, value head, chunks, counter; heartbeat, state, processing list
    expect(await until(async () => (await keysOf(job)).length === 0, 3000)).toBe(true);
  });
});

describe('redis - put/get', () => {
  it('many readers, before and after the put, get the value; the last read deletes it', async () => {
    const readers = 8;
    await withJob(readers + 1, async ([putter, ...rest], job) => {
      for (const [key, n] of [['small', 100], ['large', 5500]] as const) {
        const early = rest.slice(0, readers / 2).map((c) => c.get(key));
        await new Promise((r) => setTimeout(r, 50));
        await putter!.put(key, 3, pattern(n, n), readers);
        const late = rest.slice(readers / 2).map((c) => c.get(key));
        for (const v of await Promise.all([...early, ...late])) {
          expect(v.kind).toBe(3);
          expect(v.data).toEqual(pattern(n, n));
        }
      }
      expect(await until(async () => (await dataKeys(job)).length === 0, 2000)).toBe(true);
    }, { chunkBytes: 1000 });
  });

  it('a get honours its signal and the channel keeps working', async () => {
    await withJob(2, async ([r0, r1]) => {
      const ac = new AbortController();
      const pending = r1!.get('never', ac.signal);
      setTimeout(() => ac.abort(new Error('stop')), 50);
      await expect(pending).rejects.toThrow('stop');
      await r0!.put('later', 11, pattern(10, 1), 1);
      expect((await r1!.get('later')).data).toEqual(pattern(10, 1));
    });
  });
});

describe('redis - close and failures', () => {
  it('close() fails pending receives and gets with FMI_CLOSED and does not hang', async () => {
    const [r0] = await Promise.all([RedisChannel.create({ url: server.url, job: randomUUID(), rank: 0, size: 2 })]);
    const recv = r0!.recv({ source: 1, ctx: 0, tag: 0 });
    const get = r0!.get('nothing');
    const probe = r0!.probe({ source: 1, ctx: 0, tag: 0 });
    const outcomes = [recv, get, probe].map((p) => expect(p).rejects.toMatchObject({ code: 'FMI_CLOSED', channel: 'redis' }));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await r0!.close();
    expect(Date.now() - t0).toBeLessThan(1000);
    await Promise.all(outcomes);
    await expect(r0!.send(1, env(0), new Uint8Array(1))).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    await r0!.close(); // twice is fine
  });

  it('an envelope that does not fit a frame fails the send and leaves the channel usable', async () => {
    await withJob(2, async ([r0, r1]) => {
      await expect(r0!.send(1, { ctx: -1, tag: 0, kind: 11 }, new Uint8Array(1))).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      await expect(r0!.send(1, { ctx: 0, tag: 0, kind: 256 }, new Uint8Array(1))).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      await expect(r0!.send(2, env(0), new Uint8Array(1))).rejects.toMatchObject({ code: 'MPI_ERR_RANK' });
      await r0!.send(1, env(4), pattern(3, 3));
      expect((await r1!.recv({ source: 0, ctx: 0, tag: 4 })).data).toEqual(pattern(3, 3));
    });
  });

  it('an unreachable server is FMI_CHANNEL, quickly', async () => {
    const port = await freePort();
    const t0 = Date.now();
    await expect(RedisChannel.create({ host: '127.0.0.1', port, job: 'x', rank: 0, size: 2 })).rejects.toMatchObject({ code: 'FMI_CHANNEL', channel: 'redis' });
    await expect(redisChannel({ url: `redis://127.0.0.1:${port}` })({ job: 'x', rank: 0, size: 1 })).rejects.toMatchObject({ code: 'FMI_CHANNEL' });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a lost server fails pending receives and gets with FMI_CHANNEL; close still returns', async () => {
    const own = await startRedis();
    try {
      const [r0, r1] = await Promise.all([0, 1].map((rank) => RedisChannel.create({ url: own.url, job: 'lost', rank, size: 2, timeoutMs: 1000, reconnectMs: 0 })));
      const outcomes = [r0!.recv({ source: 1, ctx: 0, tag: 0 }), r1!.get('k')].map((p) => expect(p).rejects.toMatchObject({ code: 'FMI_CHANNEL', channel: 'redis' }));
      await new Promise((r) => setTimeout(r, 50));
      await own.stop();
      await Promise.all(outcomes);
      await expect(r1!.send(0, env(0), new Uint8Array(1))).rejects.toMatchObject({ code: 'FMI_CHANNEL' });
      const t0 = Date.now();
      await Promise.all([r0!.close(), r1!.close()]);
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally {
      await own.stop();
    }
  });

  it('waiting receives and gets cost no commands (blocking reads, no polling)', async () => {
    await withJob(2, async ([r0, r1]) => {
      const recv = r0!.recv({ source: 1, ctx: 0, tag: 0 });
      const get = r0!.get('v');
      // Awaited below; if an assertion fails first, close() must not leave them unhandled.
      recv.catch(() => {});
      get.catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
      const count = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
      const before = await count();
      await new Promise((r) => setTimeout(r, 500));
      // The INFO itself, and on a loaded machine a few late cleanups of earlier
      // tests (reads-due counters); polling even every 10 ms would be 50 or more.
      expect((await count()) - before).toBeLessThanOrEqual(6);
      await r1!.send(0, env(0), pattern(5, 5));
      await r1!.put('v', 11, pattern(6, 6), 1);
      expect((await recv).data).toEqual(pattern(5, 5));
      expect((await get).data).toEqual(pattern(6, 6));
    });
  });
});
