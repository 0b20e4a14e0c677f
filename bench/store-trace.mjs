// Per-rank timeline of a bcast on the Redis channel, timed as the model
// check times it (a barrier before every call; a call's time is the slowest
// rank's, from max(its call, the root's call) to its return), and how that
// time moves from a rank's first calls to its later ones. The numbers behind
// docs/model.md ("Why the Redis bcast looked slow") and bench/README.md.
//   npm run build && node bench/store-trace.mjs
//
// Starts its own redis-server (bench/lib/servers.mjs), then runs itself on 4
// ranks under `fmi run --channel redis`. Each rank loads dist/ unbundled and
// wraps a few methods (RedisStore.put/get, BlockingConns.acquire, ioredis's
// blmoveBuffer) to note when they start and settle: nothing in the
// library changes. Every time is on the host's monotonic clock, shared by
// the ranks' processes.
//
// Environment: BYTES (default 1024), N (traced calls, default 2000), WARM
// (untraced calls first, default 0: the curve then starts cold), CHUNK
// (calls per median of the curve, default 250), PAUSE (ms every rank sleeps
// between the barrier and the bcast, default 0; ROOTPAUSE: ms more for the
// root, so the readers wait in Redis first), V8FLAGS (given to
// v8.setFlagsFromString in each rank, e.g. --no-opt), RANKS (default 4).
// stdout: the median per CHUNK calls (the curve), p25/p50/p75, then the
// timeline of the calls at p50, p25 and p75: per rank, each event in ms from
// the root's call (put0/put1: the root's store write made/answered; get0,
// acq0/acq1: a connection taken, blm0/blm1: the blocking read sent/answered,
// get1; B1: barrier done; C0/C1: bcast call/return). A rank's events before
// its B1 are the barrier's (its release is a stored value too).

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

if (process.env.FMI_RANK === undefined) await driver();
else await rankMain();

async function driver() {
  const { startServers } = await import('./lib/servers.mjs');
  const root = fileURLToPath(new URL('..', import.meta.url));
  const servers = await startServers(['redis']);
  try {
    const cfg = join(servers.dir, 'fmi.json');
    writeFileSync(cfg, JSON.stringify({ backends: { Direct: { enabled: true }, Redis: { enabled: true, url: servers.redis.url } } }));
    const args = [join(root, 'dist/cli/main.js'), 'run', '-n', process.env.RANKS ?? '4', '--no-prefix', '--config', cfg, '--channel', 'redis', fileURLToPath(import.meta.url)];
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    process.exitCode = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  } finally {
    await servers.stop();
  }
}

async function rankMain() {
  if (process.env.V8FLAGS) v8.setFlagsFromString(process.env.V8FLAGS);
  const dist = new URL('../dist/', import.meta.url);
  const { init } = await import(new URL('index.js', dist).href);
  const { RedisStore } = await import(new URL('channels/redis/store.js', dist).href);
  const { BlockingConns } = await import(new URL('channels/redis/blocking-conns.js', dist).href);
  const { Redis } = await import('ioredis');

  const now = () => Number(process.hrtime.bigint()) / 1e6;
  let on = false;
  let it = -1;
  const ev = []; // flat: iteration, event, ms
  const mark = (name) => on && ev.push(it, name, now());
  const wrap = (proto, method, before, after) => {
    const f = proto[method];
    proto[method] = function (...args) {
      mark(before);
      const p = f.apply(this, args);
      p.then(() => mark(after), () => {});
      return p;
    };
  };
  wrap(RedisStore.prototype, 'put', 'put0', 'put1');
  wrap(RedisStore.prototype, 'get', 'get0', 'get1');
  wrap(BlockingConns.prototype, 'acquire', 'acq0', 'acq1');
  wrap(Redis.prototype, 'blmoveBuffer', 'blm0', 'blm1');

  const comm = await init();
  const { rank, size } = comm;
  const N = Number(process.env.N ?? 2000);
  const CHUNK = Math.max(1, Math.min(N, Number(process.env.CHUNK ?? 250)));
  const PAUSE = Number(process.env.PAUSE ?? 0) + (rank === 0 ? Number(process.env.ROOTPAUSE ?? 0) : 0);
  const data = new Float64Array(Math.max(1, Number(process.env.BYTES ?? 1024) / 8)).fill(1);
  const bcast = () => comm.bcast(rank === 0 ? data : undefined, 0);
  for (let i = 0; i < Number(process.env.WARM ?? 0); i++) {
    await comm.barrier();
    await bcast();
  }
  on = true;
  for (it = 0; it < N; it++) {
    await comm.barrier();
    mark('B1');
    if (PAUSE > 0) await new Promise((r) => setTimeout(r, PAUSE));
    mark('C0');
    await bcast();
    mark('C1');
  }
  on = false;
  const all = await comm.gather(ev, 0);
  if (rank === 0) print(all, size, N, CHUNK, data.byteLength);
  await comm.close();
}

function print(all, size, N, CHUNK, bytes) {
  // by[rank][iteration] = [[event, ms], ...]
  const by = all.map((evs) => {
    const per = Array.from({ length: N }, () => []);
    for (let k = 0; k < evs.length; k += 3) per[evs[k]].push([evs[k + 1], evs[k + 2]]);
    return per;
  });
  const at = (r, i, name) => by[r][i].find((e) => e[0] === name)?.[1];
  const times = [];
  for (let i = 0; i < N; i++) {
    const rootCall = at(0, i, 'C0');
    let worst = 0;
    for (let r = 0; r < size; r++) worst = Math.max(worst, at(r, i, 'C1') - Math.max(at(r, i, 'C0'), rootCall));
    times.push(worst);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const curve = [];
  for (let c = 0; c + CHUNK <= N; c += CHUNK) curve.push(med(times.slice(c, c + CHUNK)).toFixed(2));
  console.log(`bcast ${bytes} B on ${size} ranks over Redis, ${N} calls: median per ${CHUNK} calls (ms): ${curve.join(' ')}`);
  const order = times.map((t, i) => [t, i]).sort((a, b) => a[0] - b[0]);
  const q = (p) => order[Math.floor(p * (N - 1))];
  console.log(`all calls: p25 ${q(0.25)[0].toFixed(3)} p50 ${q(0.5)[0].toFixed(3)} p75 ${q(0.75)[0].toFixed(3)} ms`);
  for (const p of [0.5, 0.25, 0.75]) {
    const [t, i] = q(p);
    const t0 = at(0, i, 'C0');
    console.log(`--- call ${i} (p${p * 100}): ${t.toFixed(3)} ms; ms from the root's call`);
    for (let r = 0; r < size; r++) console.log(`rank ${r}: ${by[r][i].map(([e, ms]) => `${e}@${(ms - t0).toFixed(3)}`).join(' ')}`);
  }
}
