// Wall time per rooted collective (reduce, gather, bcast, scatter) at 8 B and
// 1 KiB, every rank in this one process over real TCP: the cost of the
// verdict step (src/collectives/verdict.ts): this build with verdicts on and
// off (init({ verdicts: true / false }); off is the default), and with FMI_DIST_BASE an earlier build's
// dist/ (e.g. of the commit before the verdicts), interleaved round by round.
//   node bench/verdict.mjs
//   FMI_DIST_BASE=/tmp/base/dist node bench/verdict.mjs
// Environment: N ranks (default 4), ROUNDS (default 7), CALLS per round (default 200).
// stdout: one line per op and size: the median µs per call of each build.

import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const size = Number(process.env.N || 4);
const ROUNDS = Number(process.env.ROUNDS || 7);
const CALLS = Number(process.env.CALLS || 200);
const here = new URL('../dist/', import.meta.url).href;
const builds = { on: [here, { verdicts: true }], off: [here, { verdicts: false }] };
if (process.env.FMI_DIST_BASE) builds.base = [pathToFileURL(process.env.FMI_DIST_BASE + '/').href, {}];

async function world([href, extra]) {
  const { init, RendezvousServer, Op } = await import(href + 'index.js');
  const server = new RendezvousServer();
  const addr = await server.listen();
  const job = randomUUID();
  const comms = await Promise.all(Array.from({ length: size }, (_, rank) => init({ rank, size, job, rendezvous: addr, env: {}, ...extra })));
  return { comms, Op, close: async () => { await Promise.all(comms.map((c) => c.close())); await server.close(); } };
}

const worlds = Object.fromEntries(await Promise.all(Object.entries(builds).map(async ([k, b]) => [k, await world(b)])));
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const calls = {
  reduce: (w, data) => Promise.all(w.comms.map((c) => c.reduce(data, w.Op.SUM, 0))),
  gather: (w, data) => Promise.all(w.comms.map((c) => c.gather(data, 0))),
  bcast: (w, data) => Promise.all(w.comms.map((c) => c.bcast(c.rank === 0 ? data : undefined, 0))),
  scatter: (w, data) => Promise.all(w.comms.map((c) => c.scatter(c.rank === 0 ? Array(size).fill(data) : undefined, 0))),
};
for (const bytes of [8, 1024]) {
  const data = new Float64Array(bytes / 8).fill(1);
  for (const [op, call] of Object.entries(calls)) {
    const us = Object.fromEntries(Object.keys(worlds).map((k) => [k, []]));
    for (const w of Object.values(worlds)) for (let i = 0; i < 20; i++) await call(w, data);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, w] of Object.entries(worlds)) {
        const t0 = performance.now();
        for (let i = 0; i < CALLS; i++) await call(w, data);
        us[k].push(((performance.now() - t0) * 1000) / CALLS);
      }
    }
    console.log(`${op} ${bytes} B, ${size} ranks: ${Object.entries(us).map(([k, xs]) => `${k} ${median(xs).toFixed(0)} µs`).join(' | ')}`);
  }
}
await Promise.all(Object.values(worlds).map((w) => w.close()));
