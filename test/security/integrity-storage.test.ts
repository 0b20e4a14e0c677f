import { randomBytes, randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IntegrityMode } from '../../src/channels/direct/integrity.js';
import { RedisChannel } from '../../src/channels/redis/index.js';
import { jobKeys } from '../../src/channels/redis/keys.js';
import { S3Channel } from '../../src/channels/s3/index.js';
import { FmiError } from '../../src/errors.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { s3Client, s3Server } from '../helpers/rgw.js';

/**
 * Opt-in integrity on the storage channels: a message or a value is stored,
 * the test flips one byte of what the server holds (a real redis-server, a
 * real S3 server), and the receive fails with FMI_PROTOCOL. Without the
 * option the same flip is delivered (what the option is for).
 */
const SECRET = randomBytes(32).toString('base64url');
const env = { ctx: 0, tag: 3, kind: 11 };
const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
const flip = (b: Buffer, at: number) => {
  b[at]! ^= 0x01;
  return b;
};

async function outcome(p: Promise<{ data: Uint8Array }>): Promise<string | Uint8Array> {
  return p.then(
    (m) => m.data,
    (e: unknown) => (e instanceof FmiError ? e.code : `untyped ${String(e)}`),
  );
}

describe('integrity on the Redis channel', () => {
  let server: RedisServer;
  let admin: Redis;
  beforeAll(async () => {
    server = await startRedis();
    admin = new Redis(server.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  const open = (job: string, rank: number, integrity: IntegrityMode, chunkBytes?: number) =>
    RedisChannel.create({ url: server.url, job, rank, size: 2, aliveMs: 0, integrity, secret: SECRET, ...(chunkBytes ? { chunkBytes } : {}) });

  /** Flips byte `at` of element `index` of list `key`. */
  async function corrupt(key: string, index: number, at: number): Promise<void> {
    const b = (await admin.lindexBuffer(key, index))!;
    await admin.lset(key, index, flip(b, at));
  }

  for (const mode of ['none', 'crc32', 'hmac'] as IntegrityMode[]) {
    it(`${mode}: a message flipped in the inbox ${mode === 'none' ? 'is delivered changed' : 'fails the receive with FMI_PROTOCOL'}; an intact one arrives`, async () => {
      const job = randomUUID();
      const r0 = await open(job, 0, mode);
      const chans = [r0];
      try {
        await r0.send(1, env, payload(100));
        await r0.send(1, env, payload(100));
        // Nobody reads rank 1's inbox yet: flip a payload byte of the first message.
        await corrupt(jobKeys(job).inbox(1), 0, 40 + 50);
        const r1 = await open(job, 1, mode);
        chans.push(r1);
        const got = await outcome(r1.recv({ source: 0, ctx: 0, tag: 3 }));
        if (mode === 'none') {
          expect((got as Uint8Array)[50]).toBe(payload(100)[50]! ^ 1);
          expect(await outcome(r1.recv({ source: 0, ctx: 0, tag: 3 }))).toEqual(payload(100));
        } else expect(got).toBe('FMI_PROTOCOL');
      } finally {
        await Promise.all(chans.map((c) => c.close()));
      }
    });

    it(`${mode}: a stored value (one frame, or chunked) flipped on the server ${mode === 'none' ? 'is read changed' : 'fails the get with FMI_PROTOCOL'}`, async () => {
      const job = randomUUID();
      const [r0, r1] = await Promise.all([open(job, 0, mode, 64), open(job, 1, mode, 64)]);
      try {
        const keys = jobKeys(job);
        await r0.put('one', 11, payload(30), 1);
        await r1.put('many', 11, payload(200), 1);
        await r1.put('intact', 11, payload(200), 1);
        await corrupt(keys.head('one'), 0, 40 + 3);
        await corrupt(keys.chunks('many'), 1, 5);
        const one = await outcome(r1.get('one'));
        const many = await outcome(r0.get('many'));
        if (mode === 'none') {
          expect((one as Uint8Array)[3]).toBe(payload(30)[3]! ^ 1);
          expect((many as Uint8Array)[128 + 5]).toBe(payload(200)[128 + 5]! ^ 1);
        } else {
          expect([one, many]).toEqual(['FMI_PROTOCOL', 'FMI_PROTOCOL']);
        }
        expect(await outcome(r0.get('intact'))).toEqual(payload(200));
      } finally {
        await Promise.all([r0.close(), r1.close()]);
      }
    });
  }

  it('ranks that disagree on the option fail the receive with FMI_PROTOCOL instead of taking a trailer for data', async () => {
    for (const [m0, m1] of [['crc32', 'none'], ['none', 'hmac']] as [IntegrityMode, IntegrityMode][]) {
      const job = randomUUID();
      const [r0, r1] = await Promise.all([open(job, 0, m0), open(job, 1, m1)]);
      try {
        await r0.send(1, env, payload(100));
        expect(await outcome(r1.recv({ source: 0, ctx: 0, tag: 3 }))).toBe('FMI_PROTOCOL');
      } finally {
        await Promise.all([r0.close(), r1.close()]);
      }
    }
  });

  it("'hmac' without the secret, or a mode it does not know, is FMI_CONFIG", async () => {
    for (const o of [{ integrity: 'hmac' as const, secret: undefined }, { integrity: 'md5' as IntegrityMode, secret: SECRET }]) {
      const err = await RedisChannel.create({ url: server.url, job: randomUUID(), rank: 0, size: 1, ...o }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'FMI_CONFIG' });
    }
  });
});

describe('integrity on the S3 channel', () => {
  const s3 = s3Server();
  const raw = s3Client(s3);
  afterAll(() => raw.destroy());
  const location = {
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
  const open = (job: string, rank: number, integrity: IntegrityMode) => S3Channel.create({ ...location, job, rank, size: 2, aliveMs: 0, integrity, secret: SECRET });

  async function corrupt(key: string, at: number): Promise<void> {
    const res = await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const b = Buffer.from(await res.Body!.transformToByteArray());
    await raw.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: flip(b, at) }));
  }

  for (const mode of ['none', 'crc32', 'hmac'] as IntegrityMode[]) {
    it(`${mode}: a message object and a value object flipped on the server ${mode === 'none' ? 'are read changed' : 'fail their receive with FMI_PROTOCOL'}`, async () => {
      const job = randomUUID();
      const [r0, r1] = await Promise.all([open(job, 0, mode), open(job, 1, mode)]);
      try {
        await r0.send(1, env, payload(100_000));
        await r0.put('v', 11, payload(100), 1);
        await corrupt(`fmi/${job}/p2p/1/0/0`, 16 + 70_000);
        await corrupt(`fmi/${job}/kv/v`, 16 + 9);
        const msg = await outcome(r1.recv({ source: 0, ctx: 0, tag: 3 }));
        const value = await outcome(r1.get('v'));
        if (mode === 'none') {
          expect((msg as Uint8Array)[70_000]).toBe(payload(100_000)[70_000]! ^ 1);
          expect((value as Uint8Array)[9]).toBe(payload(100)[9]! ^ 1);
        } else expect([msg, value]).toEqual(['FMI_PROTOCOL', 'FMI_PROTOCOL']);
        // An intact message after it still arrives.
        await r0.send(1, env, payload(10));
        expect(await outcome(r1.recv({ source: 0, ctx: 0, tag: 3 }))).toEqual(payload(10));
      } finally {
        await Promise.all([r0.close(), r1.close()]);
      }
    });
  }

  it('ranks that disagree on the option fail the receive and the get with FMI_PROTOCOL instead of taking a trailer for data', async () => {
    for (const [m0, m1] of [['crc32', 'none'], ['none', 'hmac']] as [IntegrityMode, IntegrityMode][]) {
      const job = randomUUID();
      const [r0, r1] = await Promise.all([open(job, 0, m0), open(job, 1, m1)]);
      try {
        await r0.send(1, env, payload(100));
        await r0.put('v', 11, payload(100), 1);
        expect(await outcome(r1.recv({ source: 0, ctx: 0, tag: 3 }))).toBe('FMI_PROTOCOL');
        expect(await outcome(r1.get('v'))).toBe('FMI_PROTOCOL');
      } finally {
        await Promise.all([r0.close(), r1.close()]);
      }
    }
  });
});
