import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, init, type Communicator } from '../../src/index.js';
import { jobPattern, RedisChannel } from '../../src/channels/redis/index.js';
import { jobKeys } from '../../src/channels/redis/keys.js';
import { rankProcess } from '../helpers/rank-process.js';
import { freePort } from '../helpers/redis-server.js';

/**
 * Faults of the Redis channel against a real redis-server: a reader killed in
 * a bcast loop, the server restarted mid-job (with and without persistence,
 * shorter and longer than reconnectMs), and servers that want a password.
 */

const ALIVE_MS = 1000;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A redis-server on a fixed port that can be killed and started again there (same data directory). */
class Server {
  readonly port: number;
  readonly url: string;
  readonly #args: string[];
  #child: ChildProcess | undefined;

  private constructor(port: number, args: string[]) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#args = args;
  }

  static async start(args: string[] = [], persistent = false): Promise<Server> {
    const dir = mkdtempSync(join(tmpdir(), 'fmi-redis-'));
    dirs.push(dir);
    const persistence = persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const s = new Server(await freePort(), ['--bind', '127.0.0.1', '--save', '', '--dir', dir, ...persistence, ...args]);
    await s.up();
    return s;
  }

  async up(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), ...this.#args], { stdio: 'ignore' });
    this.#child = child;
    process.once('exit', () => child.kill('SIGKILL'));
    for (let i = 0; ; i++) {
      const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      try {
        await probe.connect();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (i > 200 || child.exitCode !== null) throw new Error(`redis-server did not start on port ${this.port}`);
        await sleep(25);
      }
    }
  }

  /** SIGKILL, as a crashed server. */
  async kill(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (tag: number) => ({ ctx: 0, tag, kind: 11 });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(50);
  }
  return cond();
}

describe('redis faults - a reader killed in a bcast loop', () => {
  it('the survivors\' later bcasts leave no keys behind, and nothing is left once all closed', async () => {
    const server = await Server.start();
    const admin = new Redis(server.url);
    const job = randomUUID();
    const size = 3;
    const config = { ...DEFAULT_CONFIG, backends: { Redis: { enabled: true, url: server.url } } };
    const opts = (rank: number) => ({ rank, size, job, env: {}, config, channel: 'redis' as const });
    const before = process.env.FMI_ALIVE_MS;
    process.env.FMI_ALIVE_MS = String(ALIVE_MS);
    let comms: Communicator[] = [];
    const reader = rankProcess(
      (channels) => `
        const { init } = await import('${channels}../index.js');
        const c = await init(${JSON.stringify(opts(2))});
        for (let i = 0; ; i++) {
          await c.bcast(undefined, 0);
          if (i === 20) process.stdout.write('reading\\n');
        }
      `,
    );
    try {
      comms = await Promise.all([0, 1].map((rank) => init(opts(rank))));
      const bcasts = (n: number) =>
        (async () => {
          for (let i = 0; i < n; i++) {
            const [, got] = await Promise.all([comms[0]!.bcast(i, 0), comms[1]!.bcast<number>(undefined, 0)]);
            expect(got).toBe(i);
          }
        })();
      const running = bcasts(40);
      await reader.said('reading');
      await reader.kill();
      await running;
      // Values are keyed per collective: without the sweep each of these would stay until rank 0 closed.
      await bcasts(300);
      const values = async () => (await admin.keys(jobPattern(job))).filter((k) => /:k[qvnr]:/.test(k));
      expect(await until(async () => (await values()).length === 0, 6 * ALIVE_MS)).toBe(true);
      await bcasts(100);
      expect(await until(async () => (await values()).length === 0, 6 * ALIVE_MS)).toBe(true);
      await Promise.all(comms.map((c) => c.close()));
      comms = [];
      // The last to close removes the states, and the dead rank's keys with them.
      expect(await admin.keys(jobPattern(job))).toEqual([]);
    } finally {
      await reader.kill();
      await Promise.all(comms.map((c) => c.close()));
      if (before === undefined) delete process.env.FMI_ALIVE_MS;
      else process.env.FMI_ALIVE_MS = before;
      admin.disconnect();
      await server.kill();
    }
    // 19 s alone at load 38; over 60 s beside two other suites at load 41.
  }, 150_000);
});

describe('redis faults - values whose readers died', () => {
  it('a value put for named readers goes once those left are dead; one for a count below size - 1 waits for the close', async () => {
    const server = await Server.start();
    const admin = new Redis(server.url);
    const job = randomUUID();
    const open = (rank: number) => RedisChannel.create({ url: server.url, job, rank, size: 3, aliveMs: ALIVE_MS });
    const [r0, r1] = await Promise.all([open(0), open(1)]);
    const r2 = rankProcess(
      (channels) => `
        const { RedisChannel } = await import('${channels}redis/index.js');
        await RedisChannel.create({ url: ${JSON.stringify(server.url)}, job: ${JSON.stringify(job)}, rank: 2, size: 3, aliveMs: ${ALIVE_MS} });
        process.stdout.write('up\\n');
        setInterval(() => {}, 1000);
      `,
    );
    try {
      await r2.said('up');
      const data = new Uint8Array([1, 2, 3]);
      await r0.put('named', 11, data, [1, 2]);
      await r0.put('counted', 11, data, 1);
      expect((await r1.get('named', undefined, 0)).data).toEqual(data);
      await r2.kill();
      const has = async (key: string) => (await admin.exists(jobKeys(job).head(key))) === 1;
      expect(await until(async () => !(await has('named')), 6 * ALIVE_MS)).toBe(true);
      // Rank 1 or 2 may read it: not known which, so it stays.
      expect(await has('counted')).toBe(true);
    } finally {
      await r2.kill();
      await Promise.all([r0.close(), r1.close()]);
    }
    expect(await admin.keys(jobPattern(job))).toEqual([]);
    admin.disconnect();
    await server.kill();
  }, 30_000);
});

/**
 * Ranks 0..2 of a job on `server`: every rank sends `n` numbered messages to
 * each other (some several chunks long), and rank 0 puts a value per round
 * that the others get; every rank checks it got each message once, in order.
 */
async function exchange(chs: RedisChannel[], n: number, pauseMs: number): Promise<void> {
  const size = chs.length;
  const payload = (from: number, i: number) => {
    const b = new Uint8Array(i % 7 === 0 ? 2500 : 8);
    new DataView(b.buffer).setUint32(0, from * 1_000_000 + i, true);
    return b;
  };
  await Promise.all(
    chs.map(async (ch) => {
      const me = ch.rank;
      for (let i = 0; i < n; i++) {
        const peers = range(size).filter((r) => r !== me);
        const sends = peers.map((p) => ch.send(p, env(1), payload(me, i)));
        const recvs = peers.map(async (p) => {
          const m = await ch.recv({ source: p, ctx: 0, tag: 1 });
          expect(new DataView(m.data.buffer, m.data.byteOffset).getUint32(0, true), `rank ${me} from ${p}, round ${i}`).toBe(p * 1_000_000 + i);
        });
        const value = me === 0 ? ch.put(`v${i}`, 11, payload(0, i), size - 1) : ch.get(`v${i}`, undefined, 0).then((v) => expect(v.data).toEqual(payload(0, i)));
        await Promise.all([...sends, ...recvs, value]);
        await sleep(pauseMs);
      }
    }),
  );
}

const openJob = (url: string, job: string, o: { reconnectMs?: number; timeoutMs?: number } = {}) =>
  Promise.all(range(3).map((rank) => RedisChannel.create({ url, job, rank, size: 3, aliveMs: ALIVE_MS, chunkBytes: 1000, ...o })));

describe('redis faults - the server restarts mid-job', () => {
  it('with persistence (appendfsync always): a 2 s restart is ridden out, every message delivered exactly once', async () => {
    const server = await Server.start([], true);
    const job = randomUUID();
    const chs = await openJob(server.url, job);
    try {
      const running = exchange(chs, 150, 20);
      await sleep(1000);
      await server.kill();
      await sleep(2000);
      await server.up();
      await running;
      // Nothing delivered twice: no message is left over anywhere.
      await sleep(300);
      for (const ch of chs) for (const p of range(3)) expect(ch.iprobe({ source: p, ctx: 0, tag: 1 })).toBeUndefined();
      const admin = new Redis(server.url);
      expect((await admin.keys(jobPattern(job))).filter((k) => /:in:\d+$/.test(k))).toEqual([]);
      admin.disconnect();
    } finally {
      await Promise.all(chs.map((c) => c.close()));
      await server.kill();
    }
  }, 60_000);

  it('without persistence: every rank fails with FMI_CHANNEL saying the server lost the job\'s data, no hang', async () => {
    const server = await Server.start();
    const job = randomUUID();
    const chs = await openJob(server.url, job);
    try {
      const loops = exchange(chs, 10_000, 20);
      loops.catch(() => {});
      await sleep(1000);
      await server.kill();
      await sleep(2000);
      await server.up();
      const t0 = Date.now();
      await expect(loops).rejects.toMatchObject({ code: 'FMI_CHANNEL', channel: 'redis', message: expect.stringMatching(/lost/) });
      // Every rank's channel failed, not only the one whose loop failed first.
      for (const ch of chs) {
        await expect(ch.recv({ source: (ch.rank + 1) % 3, ctx: 0, tag: 9, signal: AbortSignal.timeout(10_000) })).rejects.toMatchObject({
          code: 'FMI_CHANNEL',
          message: expect.stringMatching(/lost this job's data|lost messages/),
        });
      }
      expect(Date.now() - t0).toBeLessThan(10_000);
    } finally {
      await Promise.all(chs.map((c) => c.close()));
      await server.kill();
    }
  }, 60_000);

  it('a restart longer than reconnectMs fails with FMI_CHANNEL', async () => {
    const server = await Server.start([], true);
    const job = randomUUID();
    const chs = await openJob(server.url, job, { reconnectMs: 1000 });
    try {
      const pending = chs[0]!.recv({ source: 1, ctx: 0, tag: 5 });
      // Several gets, each on a blocking connection of its own: the channel gives up when its first connection does,
      // and a get whose connection was then between two reconnect attempts used to wait forever.
      const gets = range(8).map((i) => chs[1 + (i % 2)]!.get(`never${i}`, undefined, i % 2 === 0 ? 2 : 1));
      // A get whose blocking connection was not open yet when the server died (a loaded machine) finds it unreachable.
      const outcome = (p: Promise<unknown>) => expect(p).rejects.toMatchObject({ code: 'FMI_CHANNEL', message: expect.stringMatching(/could not reconnect within 1000 ms|unreachable/) });
      const checks = [outcome(pending), ...gets.map(outcome)];
      await sleep(200);
      await server.kill();
      const t0 = Date.now();
      await Promise.all(checks);
      expect(Date.now() - t0).toBeLessThan(5000);
      await expect(chs[2]!.send(0, env(1), new Uint8Array(1))).rejects.toMatchObject({ code: 'FMI_CHANNEL' });
    } finally {
      await Promise.all(chs.map((c) => c.close()));
      await server.kill();
    }
  }, 30_000);

  it('gets waiting while their connections reconnect fail with FMI_CLOSED at once when the channel closes', async () => {
    const server = await Server.start();
    const job = randomUUID();
    // Long enough that no connection gives up by itself during the test; closes bounded by 5 s against the dead server.
    const chs = await openJob(server.url, job, { reconnectMs: 60_000, timeoutMs: 5000 });
    try {
      const gets = range(3).map((i) => chs[1]!.get(`never${i}`, undefined, 0));
      const checks = gets.map((g) => expect(g).rejects.toMatchObject({ code: 'FMI_CLOSED', channel: 'redis' }));
      await sleep(200);
      await server.kill();
      // The gets' connections are lost and wait between reconnect attempts.
      await sleep(500);
      const t0 = Date.now();
      const closing = chs[1]!.close();
      await Promise.all(checks);
      expect(Date.now() - t0).toBeLessThan(5000);
      await closing;
    } finally {
      await Promise.all(chs.map((c) => c.close()));
      await server.kill();
    }
  }, 60_000);
});
