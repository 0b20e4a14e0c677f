// The library's barrier or small allreduce against the same star written
// over point-to-point calls in this script (as bench/coll-shapes.mjs's
// `star`), every rank in this one process over loopback TCP: no wake-ups and
// no scheduling between processes, only the work of a call, so the
// library's own per-call work shows where a loaded machine's noise hides it
// across processes (issue 11). Blocks of BLOCK calls take turns, the order
// rotating each round. Not part of the driver.
//   N=16 node bench/coll-shapes-inproc.mjs
//   FMI_DIST=/tmp/base7/dist OP=barrier N=32 node bench/coll-shapes-inproc.mjs
//
// Environment: FMI_DIST (default this tree's dist), OP=allreduce|barrier
// (default allreduce), N ranks (default 16), BYTES (allreduce, default 1024),
// BLOCK (calls per block, default 200), ROUNDS (default 8), SHAPES (default lib,star).
// stdout: one JSON line: CPU (user + system) per call of each shape, all ranks together.

import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const dist = resolve(process.env.FMI_DIST || new URL('../dist', import.meta.url).pathname);
const { init, RendezvousServer, Op } = await import(pathToFileURL(dist + '/').href + 'index.js');
const N = Number(process.env.N || 16);
const BLOCK = Number(process.env.BLOCK || 200);
const ROUNDS = Number(process.env.ROUNDS || 8);
const BYTES = Number(process.env.BYTES || 1024);
const OP = process.env.OP || 'allreduce';
const SHAPES = (process.env.SHAPES || 'lib,star').split(',');
const TAG = 100;
const EMPTY = new Uint8Array(0);

const server = new RendezvousServer();
const addr = await server.listen();
const job = randomUUID();
const comms = await Promise.all(Array.from({ length: N }, (_, rank) => init({ rank, size: N, job, rendezvous: addr, env: {} })));
const datas = comms.map((c) => new Float64Array(BYTES / 8).fill(c.rank + 1));
const intos = comms.map(() => new Float64Array(BYTES / 8));

function add(acc, v) {
  for (let i = 0; i < acc.length; i++) acc[i] += v[i];
}

/** The star: every rank to rank 0, rank 0 folds in rank order and answers in descending rank order (as src/collectives/allreduce-tree.ts). */
async function starAllreduce(comm, data, into) {
  const { rank, size } = comm;
  if (rank !== 0) {
    await comm.send(Float64Array.from(data), 0, { tag: TAG });
    into.set(await comm.recv(0, { tag: TAG }));
    return;
  }
  const acc = Float64Array.from(data);
  const incoming = [];
  for (let r = 1; r < size; r++) incoming.push(comm.recv(r, { tag: TAG }));
  for (const p of incoming) add(acc, await p);
  for (let r = size - 1; r >= 1; r--) await comm.send(acc, r, { tag: TAG });
  into.set(acc);
}

async function starBarrier(comm) {
  const { rank, size } = comm;
  if (rank !== 0) {
    await comm.send(EMPTY, 0, { tag: TAG });
    await comm.recv(0, { tag: TAG });
    return;
  }
  const incoming = [];
  for (let r = 1; r < size; r++) incoming.push(comm.recv(r, { tag: TAG }));
  await Promise.all(incoming);
  for (let r = size - 1; r >= 1; r--) await comm.send(EMPTY, r, { tag: TAG });
}

const calls = {
  lib: (c, i) => (OP === 'barrier' ? c.barrier() : c.allreduce(datas[i], Op.SUM, { into: intos[i] })),
  star: (c, i) => (OP === 'barrier' ? starBarrier(c) : starAllreduce(c, datas[i], intos[i])),
};
for (const s of SHAPES) if (!calls[s]) throw new Error(`unknown shape ${s}`);

/** BLOCK calls of one shape at every rank. */
const block = (call) => Promise.all(comms.map(async (c, i) => { for (let k = 0; k < BLOCK; k++) await call(c, i); }));

for (const s of SHAPES) await block(calls[s]); // warm-up
const cpu = Object.fromEntries(SHAPES.map((s) => [s, 0]));
for (let round = 0; round < ROUNDS; round++) {
  for (let j = 0; j < SHAPES.length; j++) {
    const s = SHAPES[(j + round) % SHAPES.length];
    const c0 = process.cpuUsage();
    await block(calls[s]);
    const d = process.cpuUsage(c0);
    cpu[s] += d.user + d.system;
  }
}
const perCall = Object.fromEntries(SHAPES.map((s) => [s, Math.round(cpu[s] / (ROUNDS * BLOCK))]));
process.stdout.write(JSON.stringify({ bench: 'coll-shapes-inproc', op: OP, ranks: N, bytes: OP === 'barrier' ? 0 : BYTES, dist, cpu_us_per_call: perCall, load: loadavg()[0].toFixed(1) }) + '\n');
await Promise.all(comms.map((c) => c.close()));
await server.close();
