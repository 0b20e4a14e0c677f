// CPU per small collective call, every rank in this one process (real TCP
// over loopback), for several builds side by side: each build gets its own
// rendezvous server and ranks, and the builds take turns round after round,
// so a busy machine slows them alike. One event loop runs all ranks: no
// wake-ups, no scheduling between processes, only the work of a call (its
// promises, microtasks, timers, syscalls). Not part of the driver.
//   node bench/coll-small-ab.mjs                                    this build only
//   FMI_DISTS=/tmp/base3/dist,/tmp/base4/dist,dist node bench/coll-small-ab.mjs
//
// Environment: FMI_DISTS (comma-separated dist directories; default this
// tree's dist), OPS (default barrier,allreduce,bcast), FMI_BENCH_SIZES
// (allreduce and bcast payloads in bytes, default 8,1k), N ranks (default 4),
// ROUNDS (default 7), CALLS per round (default 400).
// stdout: one JSON line per (op, size, build): median and lowest CPU (user +
// system) per call over the rounds, all ranks together.

import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { sizesFrom } from './lib/common.mjs';

const dists = (process.env.FMI_DISTS || new URL('../dist', import.meta.url).pathname).split(',').map((d) => resolve(d));
const OPS = (process.env.OPS || 'barrier,allreduce,bcast').split(',');
const size = Number(process.env.N || 4);
const ROUNDS = Number(process.env.ROUNDS || 7);
const CALLS = Number(process.env.CALLS || 400);
const sizes = sizesFrom([8, 1024]);
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

const builds = [];
for (const dist of dists) {
  const { init, RendezvousServer, Op } = await import(pathToFileURL(dist + '/').href + 'index.js');
  const server = new RendezvousServer();
  const addr = await server.listen();
  const job = randomUUID();
  const comms = await Promise.all(Array.from({ length: size }, (_, rank) => init({ rank, size, job, rendezvous: addr, env: {} })));
  builds.push({ dist, server, comms, Op });
}

function callOf(b, op, bytes) {
  const { comms, Op } = b;
  if (op === 'barrier') return () => Promise.all(comms.map((c) => c.barrier()));
  const data = comms.map((c) => new Float64Array(Math.max(1, bytes / 8)).fill(c.rank + 1));
  if (op === 'allreduce') return () => Promise.all(comms.map((c, r) => c.allreduce(data[r], Op.SUM)));
  if (op === 'bcast') return () => Promise.all(comms.map((c, r) => c.bcast(r === 0 ? data[0] : undefined, 0)));
  throw new Error(`OPS: unknown ${op} (barrier, allreduce, bcast)`);
}

for (const op of OPS) {
  for (const bytes of op === 'barrier' ? [0] : sizes) {
    const calls = builds.map((b) => callOf(b, op, bytes));
    for (const call of calls) for (let i = 0; i < 300; i++) await call();
    const cpu = builds.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < builds.length; k++) {
        const i = (k + round) % builds.length;
        const c0 = process.cpuUsage();
        for (let j = 0; j < CALLS; j++) await calls[i]();
        const c = process.cpuUsage(c0);
        cpu[i].push((c.user + c.system) / CALLS);
      }
    }
    builds.forEach((b, i) =>
      console.log(JSON.stringify({ bench: 'coll-small-ab', op, ranks: size, bytes, build: b.dist, cpu_us_p50: +median(cpu[i]).toFixed(1), cpu_us_min: +Math.min(...cpu[i]).toFixed(1) })),
    );
  }
}
for (const b of builds) {
  await Promise.all(b.comms.map((c) => c.close()));
  await b.server.close();
}
