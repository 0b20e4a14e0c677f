import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { Op } from '../../src/index.js';
import { ANY_SOURCE } from '../../src/channels/channel.js';
import { cleanJob, S3Channel, s3Channel, type S3ChannelOptions } from '../../src/channels/s3/index.js';
import { s3Client, s3Server } from '../helpers/rgw.js';
import { channelCompliance, withChannelWorld } from './compliance.js';

const s3 = s3Server();
const location = {
  bucket: s3.bucket,
  endpoint: s3.endpoint,
  region: s3.region,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
};
const raw = s3Client(s3);
afterAll(() => raw.destroy());

async function leftovers(job: string): Promise<string[]> {
  const out = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `fmi/${job}/` }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

/**
 * Channels of one job, all in this process; closed by the caller. Liveness is
 * off unless asked for: these tests count objects and requests exactly
 * (s3-liveness.test.ts covers heartbeats; the compliance suite runs with them).
 */
function channels(size: number, extra: Partial<S3ChannelOptions> = {}, job = randomUUID()): Promise<S3Channel[]> {
  return Promise.all(Array.from({ length: size }, (_, rank) => S3Channel.create({ ...location, aliveMs: 0, ...extra, job, rank, size })));
}

const env = (tag: number, kind = 11) => ({ ctx: 0, tag, kind });
const bytes = (...v: number[]) => new Uint8Array(v);

channelCompliance('s3', s3Channel(location), { sizes: [1, 2, 3], largeBytes: 2 * 1024 * 1024, leftovers });

describe('s3 - objects and requests', () => {
  it('a message is one PUT, one GET and one DELETE, under p2p/{dest}/{source}/{seq}', async () => {
    const job = randomUUID();
    const [a, b] = await channels(2, {}, job);
    await a!.send(1, env(5), bytes(1, 2, 3));
    expect(await leftovers(job)).toEqual([`fmi/${job}/p2p/1/0/0`]);
    const got = await b!.recv({ source: 0, ctx: 0, tag: 5 });
    expect([got.source, got.tag, got.kind, Array.from(got.data)]).toEqual([0, 5, 11, [1, 2, 3]]);
    await Promise.all([a!.close(), b!.close()]);
    expect(a!.requestCounts()).toMatchObject({ put: 1, get: 0, miss: 0, head: 1 });
    // The receiver: its read, the delete after it, and close's sweep of its inbox (an empty LIST).
    expect(b!.requestCounts()).toMatchObject({ put: 0, get: 1, miss: 0, delete: 1, list: 1, head: 1 });
    expect(await leftovers(job)).toEqual([]);
  });

  it('conditional writes refuse to overwrite a message or a value', async () => {
    const job = randomUUID();
    const [a, b] = await channels(2, {}, job);
    try {
      await a!.put('bcast/1', 11, bytes(1), 1);
      await expect(a!.put('bcast/1', 11, bytes(2), 1)).rejects.toMatchObject({ code: 'FMI_CHANNEL', channel: 's3' });
      expect(Array.from((await b!.get('bcast/1')).data)).toEqual([1]);
      // A stale object where the next message goes (say, a job id used twice): the send fails, nothing is replaced.
      await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `fmi/${job}/p2p/1/0/0`, Body: 'stale' }));
      await expect(a!.send(1, env(0), bytes(9))).rejects.toMatchObject({ code: 'FMI_CHANNEL', message: expect.stringContaining('exists already') });
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
    expect(await leftovers(job)).toEqual([]);
  });

  it('put/get: readers wait for the value; the writer deletes it when it closes', async () => {
    const job = randomUUID();
    const [a, b, c] = await channels(3, {}, job);
    const reads = [b!.get('v'), c!.get('v')];
    await new Promise((r) => setTimeout(r, 50));
    await a!.put('v', 10, new Uint8Array(new Float64Array([1.5, 2.5]).buffer), 2);
    for (const r of await Promise.all(reads)) expect([r.kind, Array.from(new Float64Array(r.data.slice().buffer))]).toEqual([10, [1.5, 2.5]]);
    expect(await leftovers(job)).toEqual([`fmi/${job}/kv/v`]);
    await Promise.all([a!.close(), b!.close(), c!.close()]);
    expect(await leftovers(job)).toEqual([]);
  });

  it('cleanJob removes what a crashed job left', async () => {
    const job = randomUUID();
    const [a, b] = await channels(2, {}, job);
    // Rank 1 never reads and neither rank closes: a crash.
    for (let i = 0; i < 3; i++) await a!.send(1, env(i), bytes(i));
    await a!.put('bcast/0', 11, bytes(7), 1);
    expect((await leftovers(job)).length).toBe(4);
    expect(await cleanJob({ ...location, job })).toBe(4);
    expect(await leftovers(job)).toEqual([]);
    expect(await cleanJob({ ...location, job })).toBe(0);
    await expect(cleanJob({ ...location, job: '' })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    await expect(cleanJob({ ...location, job: 'a/b' })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    await Promise.all([a!.close(), b!.close()]);
  });

  it('a missing bucket is FMI_CONFIG at create, and no bucket is made', async () => {
    const bucket = `fmi-missing-${randomUUID().slice(0, 8)}`;
    await expect(S3Channel.create({ ...location, bucket, job: randomUUID(), rank: 0, size: 1 })).rejects.toMatchObject({
      code: 'FMI_CONFIG',
      message: expect.stringContaining('does not exist'),
    });
    await expect(S3Channel.create({ ...location, bucket, job: randomUUID(), rank: 0, size: 1 })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
  });

  it('an unreachable endpoint is FMI_CHANNEL at create', async () => {
    await expect(S3Channel.create({ ...location, endpoint: 'http://127.0.0.1:9', job: randomUUID(), rank: 0, size: 1, timeoutMs: 2000 })).rejects.toMatchObject({
      code: 'FMI_CHANNEL',
      channel: 's3',
    });
  });

  it('wrong credentials and bad options are FMI_CONFIG', async () => {
    const o = { job: randomUUID(), rank: 0, size: 1 };
    await expect(S3Channel.create({ ...location, ...o, credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    await expect(S3Channel.create({ ...location, ...o, poll: { initialMs: 0 } })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    await expect(S3Channel.create({ ...location, ...o, job: 'x/y' })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
  });
});

describe('s3 - polling', () => {
  it('close ends pending receives and gets at once, and polling with them', async () => {
    const [a, b] = await channels(2);
    const pending = b!.recv({ source: 0, ctx: 0, tag: 1 }).catch((e: unknown) => e);
    const value = b!.get('never').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    await b!.close();
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(await pending).toMatchObject({ code: 'FMI_CLOSED' });
    expect(await value).toMatchObject({ code: 'FMI_CLOSED' });
    await expect(b!.send(0, env(1), bytes(1))).rejects.toMatchObject({ code: 'FMI_CLOSED' });
    const after = b!.requestCounts().total;
    await new Promise((r) => setTimeout(r, 300));
    expect(b!.requestCounts().total).toBe(after);
    await a!.close();
  });

  it('no requests while nobody waits; a long wait backs off to a few GETs per second', async () => {
    const [a, b] = await channels(2);
    try {
      const idle = b!.requestCounts().total;
      await new Promise((r) => setTimeout(r, 300));
      expect(b!.requestCounts().total).toBe(idle);

      const ac = new AbortController();
      const waiting = b!.recv({ source: 0, ctx: 0, tag: 1, signal: ac.signal });
      await new Promise((r) => setTimeout(r, 1000));
      const misses = b!.requestCounts().miss;
      // 5 ms x1.5 up to 200 ms, ±20 %: 11-14 GETs in the first second.
      expect(misses).toBeGreaterThanOrEqual(8);
      expect(misses).toBeLessThanOrEqual(18);
      await new Promise((r) => setTimeout(r, 1000));
      // Then about 5 per second (200 ms apart).
      expect(b!.requestCounts().miss - misses).toBeLessThanOrEqual(7);

      // A message ends the wait quickly even after a long one (within the longest backoff).
      const t0 = performance.now();
      await a!.send(1, env(1), bytes(1));
      await waiting;
      expect(performance.now() - t0).toBeLessThan(400);
      ac.abort();

      // Nobody waits again: polling stops.
      await new Promise((r) => setTimeout(r, 250));
      const after = b!.requestCounts().total;
      await new Promise((r) => setTimeout(r, 500));
      expect(b!.requestCounts().total).toBe(after);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('a receive that times out stops the polling it started', async () => {
    const [a, b] = await channels(2);
    try {
      await expect(b!.recv({ source: 0, ctx: 0, tag: 1, signal: AbortSignal.timeout(100) })).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 250));
      const after = b!.requestCounts().total;
      await new Promise((r) => setTimeout(r, 400));
      expect(b!.requestCounts().total).toBe(after);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('ANY_SOURCE polls every source; iprobe in a loop finds a message', async () => {
    const [a, b, c] = await channels(3);
    try {
      const any = c!.recv({ source: ANY_SOURCE, ctx: 0, tag: 4 });
      await b!.send(2, env(4), bytes(42));
      expect((await any).source).toBe(1);

      await a!.send(2, env(6), bytes(6));
      let seen;
      for (let i = 0; i < 200 && !seen; i++) {
        seen = c!.iprobe({ source: 0, ctx: 0, tag: 6 });
        if (!seen) await new Promise((r) => setTimeout(r, 10));
      }
      expect(seen).toMatchObject({ source: 0, tag: 6, length: 1 });
      expect(Array.from((await c!.recv({ source: 0, ctx: 0, tag: 6 })).data)).toEqual([6]);
    } finally {
      await Promise.all([a!.close(), b!.close(), c!.close()]);
    }
  });

  it('a send abandoned midway leaves no gap: later messages still arrive, in order', async () => {
    const [a, b] = await channels(2);
    try {
      const big = new Uint8Array(8 * 1024 * 1024).fill(3);
      const first = a!.send(1, env(1), big, AbortSignal.timeout(2)).then(
        () => true,
        () => false,
      );
      const landed = await first;
      await a!.send(1, env(1), bytes(9));
      const got = await b!.recv({ source: 0, ctx: 0, tag: 1, signal: AbortSignal.timeout(10_000) });
      // Either the big message made it after all (then it comes first) or its number was skipped.
      if (got.data.byteLength === big.byteLength) {
        expect(Array.from((await b!.recv({ source: 0, ctx: 0, tag: 1, signal: AbortSignal.timeout(10_000) })).data)).toEqual([9]);
      } else {
        expect(Array.from(got.data)).toEqual([9]);
        expect(landed).toBe(false);
      }
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});

describe('s3 - isolation', () => {
  it('two concurrent jobs with the same contexts and tags do not interfere', async () => {
    const concat = Op.create((x: string, y: string) => x + y, { commutative: false });
    const run = (value: string) =>
      withChannelWorld(s3Channel(location), 3, async (c) => {
        const got = await c.allreduce(`${value}${c.rank}`, concat);
        const next = (c.rank + 1) % c.size;
        const prev = (c.rank + c.size - 1) % c.size;
        const [, fromPrev] = await Promise.all([c.send(`${value}:${c.rank}`, next, { tag: 3 }), c.recv(prev, { tag: 3 })]);
        return [got, fromPrev];
      });
    const [x, y] = await Promise.all([run('x'), run('y')]);
    expect(x).toEqual([0, 1, 2].map((r) => ['x0x1x2', `x:${(r + 2) % 3}`]));
    expect(y).toEqual([0, 1, 2].map((r) => ['y0y1y2', `y:${(r + 2) % 3}`]));
  });
});
