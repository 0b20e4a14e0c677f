import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY_SOURCE } from '../../src/channels/channel.js';
import { DEFAULT_CONFIG, init } from '../../src/index.js';
import { jobPattern, RedisChannel } from '../../src/channels/redis/index.js';
import { rankProcess } from '../helpers/rank-process.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import { writerLivenessTests } from './writer-liveness.js';

// Short heartbeats keep the tests quick; the default is 3000.
const ALIVE_MS = 600;

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

const env = (tag: number) => ({ ctx: 0, tag, kind: 11 });
const open = (job: string, rank: number, size: number, aliveMs = ALIVE_MS) => RedisChannel.create({ url: server.url, job, rank, size, aliveMs });

/** Rank `rank` of `job` in a process of its own, running `then` (with `ch`, its channel) once it is open. */
function remoteRank(job: string, rank: number, size: number, then: string, aliveMs = ALIVE_MS) {
  return rankProcess(
    (channels) => `
      const { RedisChannel } = await import('${channels}redis/index.js');
      const ch = await RedisChannel.create({ url: ${JSON.stringify(server.url)}, job: ${JSON.stringify(job)}, rank: ${rank}, size: ${size}, aliveMs: ${aliveMs} });
      ${then}
      setInterval(() => {}, 1000);
    `,
  );
}

describe('redis - liveness', () => {
  it('a rank killed mid-job fails the receives waiting on it with FMI_PEER_LOST, after the messages it sent', async () => {
    const job = randomUUID();
    const r0 = await open(job, 0, 2);
    try {
      const r1 = remoteRank(job, 1, 2, `
        for (let i = 0; i < 3; i++) await ch.send(0, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([i]));
        process.stdout.write('sent\\n');
      `);
      await r1.said('sent');
      const pending = r0.recv({ source: 1, ctx: 0, tag: 2 });
      const any = r0.recv({ source: ANY_SOURCE, ctx: 0, tag: 3 });
      pending.catch(() => {});
      any.catch(() => {});
      await r1.kill();
      const t0 = Date.now();
      await expect(pending).rejects.toMatchObject({ code: 'FMI_PEER_LOST', peer: 1, channel: 'redis', message: expect.stringContaining('rank 1 died') });
      const ms = Date.now() - t0;
      // The key lives ALIVE_MS after the last beat, checks come every ALIVE_MS / 2.
      expect(ms).toBeLessThan(2 * ALIVE_MS + 500);
      // Every other rank is gone: nobody is left to answer a receive from any source.
      await expect(any).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
      // What it sent before it died is still there, in order; then its receives fail at once.
      for (let i = 0; i < 3; i++) expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([i]);
      await expect(r0.recv({ source: 1, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
      await expect(r0.probe({ source: 1, ctx: 0, tag: 1 })).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
      process.stdout.write(`redis liveness: receive failed ${ms} ms after SIGKILL (aliveMs ${ALIVE_MS})\n`);
    } finally {
      await r0.close();
    }
  });

  it('a rank that closed normally: its messages first, then receives fail saying it closed', async () => {
    const job = randomUUID();
    const [r0, r1] = await Promise.all([open(job, 0, 2), open(job, 1, 2)]);
    try {
      await r1.send(0, env(1), new Uint8Array([7]));
      const later = r0.recv({ source: 1, ctx: 0, tag: 2 });
      later.catch(() => {});
      await r1.close();
      expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([7]);
      await expect(later).rejects.toMatchObject({ code: 'FMI_PEER_LOST', message: expect.stringContaining('rank 1 closed') });
    } finally {
      await r0.close();
    }
    // The last rank to close removes every rank's state.
    expect(await admin.keys(jobPattern(job))).toEqual([]);
  });

  it('a rank busy in synchronous code for 4x aliveMs is not declared dead', async () => {
    // A longer aliveMs than the detection tests: a heartbeat thread starved by
    // a busy machine (the whole suite at once) must not pass for a dead rank
    // here; the heartbeat is what is tested, not how soon a loss is seen.
    const aliveMs = 2000;
    const job = randomUUID();
    const r0 = await open(job, 0, 2, aliveMs);
    const r1 = remoteRank(job, 1, 2, `
      process.stdout.write('busy\\n');
      const end = Date.now() + ${4 * aliveMs};
      while (Date.now() < end) {}
      await ch.send(0, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([42]));
      process.stdout.write('sent\\n');
    `, aliveMs);
    try {
      await r1.said('busy');
      const m = await r0.recv({ source: 1, ctx: 0, tag: 1 });
      expect(Array.from(m.data)).toEqual([42]);
    } finally {
      await r1.kill();
      await r0.close();
    }
  });

  it('a rank that has not started yet is waited for, not declared dead', async () => {
    const job = randomUUID();
    const r0 = await open(job, 0, 2);
    try {
      const recv = r0.recv({ source: 1, ctx: 0, tag: 1, signal: AbortSignal.timeout(3 * ALIVE_MS) });
      await expect(recv).rejects.toMatchObject({ name: 'TimeoutError' });
      const r1 = await open(job, 1, 2);
      await r1.send(0, env(1), new Uint8Array([1]));
      expect(Array.from((await r0.recv({ source: 1, ctx: 0, tag: 1 })).data)).toEqual([1]);
      await r1.close();
    } finally {
      await r0.close();
    }
  });
});

writerLivenessTests({ channel: 'redis', aliveMs: ALIVE_MS, open, remoteRank, detectMs: 2 * ALIVE_MS + 500, deadMs: 2 * ALIVE_MS });

describe('redis - liveness in a Communicator', () => {
  it('a Communicator over Redis: the bcast root killed before the bcast fails the others\' bcast with FMI_PEER_LOST', async () => {
    const job = randomUUID();
    const size = 3;
    const config = { ...DEFAULT_CONFIG, backends: { Redis: { enabled: true, url: server.url } } };
    const opts = (rank: number) => ({ rank, size, job, env: {}, config, channel: 'redis' as const });
    const before = process.env.FMI_ALIVE_MS;
    process.env.FMI_ALIVE_MS = String(ALIVE_MS);
    try {
      const root = rankProcess(
        (channels) => `
          const { init } = await import('${channels}../index.js');
          const c = await init(${JSON.stringify(opts(0))});
          process.stdout.write('up\\n');
          setInterval(() => {}, 1000);
        `,
      );
      const comms = await Promise.all([1, 2].map((rank) => init(opts(rank))));
      try {
        await root.said('up');
        await root.kill();
        const t0 = Date.now();
        const bcasts = comms.map((c) => c.bcast<number>(undefined, 0, { timeoutMs: 30_000 }));
        // Every bcast gets its handler now: awaiting them one by one left the second's rejection unhandled for a while.
        await Promise.all(bcasts.map((b) => expect(b).rejects.toMatchObject({ code: 'FMI_PEER_LOST' })));
        const ms = Date.now() - t0;
        expect(ms).toBeLessThan(2 * ALIVE_MS + 1000);
        process.stdout.write(`redis liveness: bcast failed ${ms} ms after its root's SIGKILL (aliveMs ${ALIVE_MS})\n`);
      } finally {
        await Promise.all(comms.map((c) => c.close()));
      }
    } finally {
      if (before === undefined) delete process.env.FMI_ALIVE_MS;
      else process.env.FMI_ALIVE_MS = before;
    }
  });
});
