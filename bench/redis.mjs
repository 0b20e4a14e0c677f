// Send -> receive latency through the Redis channel, next to the floor that
// any Redis channel sits on, measured in the same process against the same
// server:
//   raw-ioredis       one BLPOP and one RPUSH with plain ioredis on two
//                     connections, the BLPOP issued with the RPUSH;
//   raw-ioredis-loop  the same RPUSH, read by a BLPOP loop that re-issues its
//                     pop as soon as one returns, as a receiver that cannot know
//                     when the next message comes must (fmi's inbox reader
//                     does). In one process on few cores, that re-issue (a
//                     write and a server wake-up) lands inside the measured
//                     time; across machines it overlaps the next send;
//   fmi               RedisChannel send -> recv into a preallocated buffer.
//   npm run build && node bench/redis.mjs
//
// The three alternate iteration by iteration, so all see the same load. An
// iteration ends when the message is in the receiver's hands and the send
// has resolved.
// Environment: FMI_REDIS_URL (else a redis-server is started on a free port),
// FMI_BENCH_SIZES, FMI_BENCH_MS, FMI_BENCH_QUICK (see bench/README.md).
// stdout: {bench:'redis-p2p', impl:'fmi'|'raw-ioredis'|'raw-ioredis-loop', channel, ranks, bytes, iters, p50_us, p99_us, mb_s}
// stderr: a table with the ratios.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { RedisChannel } from '../dist/channels/redis/index.js';
import { KiB, MiB, emit, fillPattern, fmtBytes, itersFor, mbPerS, sizesFrom, summarize, warmupMsFor } from './lib/common.mjs';

const SIZES = sizesFrom([8, 64, KiB, 16 * KiB, 256 * KiB, MiB]);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway redis-server (no persistence) unless FMI_REDIS_URL names one. */
async function redisServer() {
  if (process.env.FMI_REDIS_URL) return { url: process.env.FMI_REDIS_URL, stop: async () => {} };
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = new Promise((_, reject) => child.once('error', (e) => reject(new Error(`cannot start redis-server (apt-get install redis-server): ${e.message}`))));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let i = 0; ; i++) {
    try {
      await Promise.race([probe.connect(), failed]);
      await probe.ping();
      break;
    } catch (e) {
      if (i > 100) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Times several implementations of one iteration, interleaved (rotating the
 * order each round) so all see the same machine: on a busy host a drift in
 * load would otherwise show up as a difference between them.
 */
async function measureInterleaved(impls, first) {
  const names = Object.keys(impls);
  const warmEnd = performance.now() + warmupMsFor(first);
  let warm = 0;
  const w0 = performance.now();
  while (performance.now() < warmEnd || warm < 3) {
    for (const k of names) await impls[k]();
    warm++;
  }
  // The plan's time budget is per implementation.
  const iters = itersFor((performance.now() - w0) / warm / names.length);
  const samples = Object.fromEntries(names.map((k) => [k, new Float64Array(iters)]));
  for (let i = 0; i < iters; i++) {
    for (let j = 0; j < names.length; j++) {
      const k = names[(i + j) % names.length];
      const t0 = performance.now();
      await impls[k]();
      samples[k][i] = performance.now() - t0;
    }
  }
  return Object.fromEntries(names.map((k) => [k, { iters, ...summarize(samples[k], iters) }]));
}

/** A BLPOP loop on `conn` that hands each popped value to the waiter of the moment. */
function popLoop(conn, key) {
  let waiter;
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      let r;
      try {
        r = await conn.blpopBuffer(key, 0);
      } catch (e) {
        if (!stopped) throw e;
        return;
      }
      waiter(r[1]);
    }
  };
  const done = loop();
  return {
    next: () => new Promise((resolve) => (waiter = resolve)),
    stop: () => {
      stopped = true;
      conn.disconnect();
      return done;
    },
  };
}

async function main() {
  const server = await redisServer();
  const job = randomUUID();
  const [ch0, ch1] = await Promise.all([0, 1].map((rank) => RedisChannel.create({ url: server.url, job, rank, size: 2 })));
  const a = new Redis(server.url);
  const b = new Redis(server.url);
  const rawKey = `fmi-bench:{${job}}:raw`;
  const loopKey = `fmi-bench:{${job}}:loop`;
  const loop = popLoop(new Redis(server.url), loopKey);
  const env = { ctx: 0, tag: 0, kind: 11 };
  const rows = [];
  const check = (impl, got, bytes) => {
    if (got !== bytes) throw new Error(`${impl}: ${got} bytes arrived, not ${bytes}`);
  };
  try {
    for (const [i, bytes] of SIZES.entries()) {
      const payload = Buffer.allocUnsafe(bytes);
      fillPattern(payload, bytes);
      const into = new Uint8Array(bytes);
      const r = await measureInterleaved(
        {
          'raw-ioredis': async () => {
            const got = b.blpopBuffer(rawKey, 0);
            await a.rpush(rawKey, payload);
            check('raw-ioredis', (await got)[1].length, bytes);
          },
          'raw-ioredis-loop': async () => {
            const got = loop.next();
            await a.rpush(loopKey, payload);
            check('raw-ioredis-loop', (await got).length, bytes);
          },
          fmi: async () => {
            const got = ch1.recv({ source: 0, ctx: 0, tag: 0, into });
            await ch0.send(1, env, payload);
            check('fmi', (await got).data.byteLength, bytes);
          },
        },
        i === 0,
      );
      if (into[bytes - 1] !== payload[bytes - 1]) throw new Error('fmi: payload damaged');
      for (const [impl, x] of Object.entries(r)) {
        emit({ bench: 'redis-p2p', impl, channel: 'redis', ranks: 2, bytes, iters: x.iters, p50_us: x.p50_us, p99_us: x.p99_us, mb_s: mbPerS(bytes, x.p50_us) });
      }
      rows.push({ bytes, raw: r['raw-ioredis'], loop: r['raw-ioredis-loop'], fmi: r.fmi });
    }
  } finally {
    await Promise.all([ch0.close(), ch1.close()]);
    await loop.stop();
    await a.del(rawKey, loopKey);
    a.disconnect();
    b.disconnect();
    await server.stop();
  }
  const pad = (s, n) => String(s).padStart(n);
  const us = (x) => pad(x.toFixed(0), 8);
  const ratio = (x, y) => pad((x / y).toFixed(2), 6);
  process.stderr.write(`\nredis send->recv latency, µs (${process.env.FMI_REDIS_URL ? process.env.FMI_REDIS_URL : 'local redis-server'}); ratios are fmi / raw\n`);
  process.stderr.write(`${pad('size', 8)} | ${pad('raw', 8)} ${pad('loop', 8)} ${pad('fmi', 8)} ${pad('/raw', 6)} ${pad('/loop', 6)} | p99: ${pad('raw', 8)} ${pad('loop', 8)} ${pad('fmi', 8)} ${pad('/raw', 6)} ${pad('/loop', 6)}\n`);
  for (const { bytes, raw, loop: lp, fmi } of rows) {
    process.stderr.write(
      `${pad(fmtBytes(bytes), 8)} | ${us(raw.p50_us)} ${us(lp.p50_us)} ${us(fmi.p50_us)} ${ratio(fmi.p50_us, raw.p50_us)} ${ratio(fmi.p50_us, lp.p50_us)} | ` +
        `     ${us(raw.p99_us)} ${us(lp.p99_us)} ${us(fmi.p99_us)} ${ratio(fmi.p99_us, raw.p99_us)} ${ratio(fmi.p99_us, lp.p99_us)}\n`,
    );
  }
}

await main();
