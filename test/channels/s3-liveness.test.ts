import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ANY_SOURCE } from '../../src/channels/channel.js';
import { S3Channel } from '../../src/channels/s3/index.js';
import { rankProcess } from '../helpers/rank-process.js';
import { s3Client, s3Server } from '../helpers/rgw.js';
import { writerLivenessTests } from './writer-liveness.js';

// RGW's timestamps have whole seconds: 1 s is the shortest period worth testing (the default is 10 s).
const ALIVE_MS = 1000;
// Dead after 3 periods of silence, + 1 s of timestamp grain, + up to a period until the next check.
const DETECT_MS = 5 * ALIVE_MS + 1000;

const s3 = s3Server();
const location = {
  bucket: s3.bucket,
  endpoint: s3.endpoint,
  region: s3.region,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
};
const raw = s3Client(s3);
afterAll(() => raw.destroy());

const open = (job: string, rank: number, size: number) => S3Channel.create({ ...location, job, rank, size, aliveMs: ALIVE_MS });
const env = (tag: number) => ({ ctx: 0, tag, kind: 11 });

/** Rank `rank` of `job` in a process of its own, running `then` (with `ch`, its channel) once it is open. */
function remoteRank(job: string, rank: number, size: number, then: string) {
  const opts = JSON.stringify({ ...location, job, rank, size, aliveMs: ALIVE_MS });
  return rankProcess(
    (channels) => `
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
      const { S3Channel } = await import('${channels}s3/index.js');
      const ch = await S3Channel.create(${opts});
      ${then}
      setInterval(() => {}, 1000);
    `,
  );
}

describe('s3 - liveness', () => {
  it('a rank killed mid-job fails the receives waiting on it with FMI_PEER_LOST, after the messages it wrote', async () => {
    const job = randomUUID();
    const r0 = await open(job, 0, 2);
    try {
      const r1 = remoteRank(job, 1, 2, `
        for (let i = 0; i < 3; i++) await ch.send(0, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([i]));
        process.stdout.write('sent\\n');
      `);
      await r1.said('sent');
      // Waits on a tag nobody sends: the poll loop reads the three messages past it and keeps them.
      const pending = r0.recv({ source: 1, ctx: 0, tag: 2 });
      const any = r0.recv({ source: ANY_SOURCE, ctx: 0, tag: 3 });
      pending.catch(() => {});
      any.catch(() => {});
      await r1.kill();
      const t0 = Date.now();
      await expect(pending).rejects.toMatchObject({ code: 'FMI_PEER_LOST', peer: 1, channel: 's3', message: expect.stringContaining('rank 1 died') });
      const ms = Date.now() - t0;
      expect(ms).toBeLessThan(DETECT_MS);
      await expect(any).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
      for (let i = 0; i < 3; i++) expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([i]);
      await expect(r0.recv({ source: 1, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
      process.stdout.write(`s3 liveness: receive failed ${ms} ms after SIGKILL (aliveMs ${ALIVE_MS}); rank 0 requests ${JSON.stringify(r0.requestCounts())}\n`);
    } finally {
      await r0.close();
    }
  });

  it('messages a rank wrote just before dying are delivered before its receives fail', async () => {
    const job = randomUUID();
    const r0 = await open(job, 0, 2);
    try {
      // Nobody waits on rank 1 while it writes and dies: everything is read after the verdict.
      const r1 = remoteRank(job, 1, 2, `
        for (let i = 0; i < 3; i++) await ch.send(0, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([i]));
        process.stdout.write('sent\\n');
      `);
      await r1.said('sent');
      await r1.kill();
      await new Promise((r) => setTimeout(r, 4 * ALIVE_MS + 1000));
      for (let i = 0; i < 3; i++) expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([i]);
      await expect(r0.recv({ source: 1, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    } finally {
      await r0.close();
    }
  });

  it('a rank that closed normally: its messages first, then receives fail saying it closed; nothing is left', async () => {
    const job = randomUUID();
    const [r0, r1] = await Promise.all([open(job, 0, 2), open(job, 1, 2)]);
    try {
      await r1.send(0, env(1), new Uint8Array([7]));
      await r1.close();
      expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([7]);
      const t0 = Date.now();
      await expect(r0.recv({ source: 1, ctx: 0, tag: 2 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST', message: expect.stringContaining('rank 1 closed') });
      expect(Date.now() - t0).toBeLessThan(2 * ALIVE_MS + 1000);
    } finally {
      await r0.close();
    }
    const left = await raw.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `fmi/${job}/` }));
    expect(left.Contents ?? []).toEqual([]);
  });

  it('a rank busy in synchronous code past the dead threshold is not declared dead', async () => {
    const job = randomUUID();
    const r0 = await open(job, 0, 2);
    const r1 = remoteRank(job, 1, 2, `
      process.stdout.write('busy\\n');
      const end = Date.now() + ${5 * ALIVE_MS + 500};
      while (Date.now() < end) {}
      await ch.send(0, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([42]));
    `);
    try {
      await r1.said('busy');
      expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([42]);
    } finally {
      await r1.kill();
      await r0.close();
    }
  });
});

writerLivenessTests({ channel: 's3', aliveMs: ALIVE_MS, open, remoteRank, detectMs: DETECT_MS, deadMs: 4 * ALIVE_MS + 1000 });
