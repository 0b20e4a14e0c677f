// Paired A/B of the shapes of a small collective on many ranks (issue 11):
// every shape runs in the same job, in blocks of BLOCK calls that take turns
// (the order rotating each round), so a busy machine slows them alike. The
// shapes are written here over point-to-point messages (one tag per shape),
// all the same way, next to the library's own call (`lib`); the winner then
// goes into src/collectives. Not part of the driver.
//   OP=barrier node dist/cli/main.js run -n 16 --no-prefix bench/coll-shapes.mjs
//   OP=allreduce SHAPES=lib,star,k4,k8 node dist/cli/main.js run -n 32 --no-prefix bench/coll-shapes.mjs
//
// Shapes: `lib` (comm.barrier / comm.allreduce), `star` (every rank to rank 0
// and back), `kN` (the k-nomial tree of radix N of src/collectives/tree.ts:
// k4 is the library's above 32 ranks), `dis` (dissemination barrier; for
// allreduce, recursive doubling's exchange pattern with the sum), `star-asc`
// (the star, rank 0 answering in ascending rank order instead of descending),
// `star-eager` (barrier: rank 0 answers... every rank at once when the last
// arrives, as the star; allreduce: folds each arrival as it comes, any order).
// Environment: OP=barrier|allreduce (default barrier), SHAPES (default
// lib,star,k4,k8,dis), BLOCK (calls per block, default 30), ROUNDS (default
// 10), WARMUP (calls per shape first, default 50), BYTES (allreduce, default 1024).
// stdout (rank 0): one JSON line per shape: p50 and mean of the slowest
// rank's time per call over all its blocks, CPU per call summed over the ranks, and rank 0's CPU per call (the star's centre).

import { init, Op } from 'fmi';
import { knomialTree } from '../dist/collectives/tree.js';

const comm = await init();
const { rank, size } = comm;
const OP = process.env.OP || 'barrier';
const SHAPES = (process.env.SHAPES || 'lib,star,k4,k8,dis').split(',');
const BLOCK = Number(process.env.BLOCK || 30);
const ROUNDS = Number(process.env.ROUNDS || 10);
const WARMUP = Number(process.env.WARMUP || 50);
const BYTES = Number(process.env.BYTES || 1024);
const EMPTY = new Uint8Array(0);
const data = new Float64Array(BYTES / 8).fill(rank + 1);
const into = new Float64Array(BYTES / 8);

function add(acc, v) {
  for (let i = 0; i < acc.length; i++) acc[i] += v[i];
}

function tree(radix) {
  return knomialTree(rank, 0, size, radix);
}

/** Barrier over a tree: as src/collectives/barrier-tree.ts (children's releases largest subtree first unless `asc`). */
async function barrierOver(t, tag, asc = false) {
  const { parent, children } = t;
  if (children.length > 0) await Promise.all(children.map((c) => comm.recv(c, { tag })));
  if (parent >= 0) {
    await comm.send(EMPTY, parent, { tag });
    await comm.recv(parent, { tag });
  }
  if (asc) for (const c of children) await comm.send(EMPTY, c, { tag });
  else for (let i = children.length - 1; i >= 0; i--) await comm.send(EMPTY, children[i], { tag });
}

/** Allreduce over a tree, as src/collectives/allreduce-tree.ts; `eager`: fold arrivals as they come. */
async function allreduceOver(t, tag, asc = false, eager = false) {
  const { parent, children } = t;
  const acc = Float64Array.from(data);
  if (eager) await Promise.all(children.map((c) => comm.recv(c, { tag }).then((v) => add(acc, v))));
  else {
    const incoming = children.map((c) => comm.recv(c, { tag }));
    for (const p of incoming) add(acc, await p);
  }
  let out = acc;
  if (parent >= 0) {
    await comm.send(acc, parent, { tag });
    out = await comm.recv(parent, { tag });
  }
  if (asc) for (const c of children) await comm.send(out, c, { tag });
  else for (let i = children.length - 1; i >= 0; i--) await comm.send(out, children[i], { tag });
  into.set(out);
}

async function dissemination(tag) {
  for (let k = 1; k < size; k <<= 1) {
    const r = comm.recv((rank - k + size) % size, { tag });
    await comm.send(EMPTY, (rank + k) % size, { tag });
    await r;
  }
}

async function doubling(tag) {
  // Recursive doubling on a power of two (others: not run).
  const acc = Float64Array.from(data);
  for (let k = 1; k < size; k <<= 1) {
    const peer = rank ^ k;
    const r = comm.recv(peer, { tag });
    await comm.send(acc, peer, { tag });
    add(acc, await r);
  }
  into.set(acc);
}

function shapeCall(name, tag) {
  const star = { parent: rank === 0 ? -1 : 0, children: rank === 0 ? Array.from({ length: size - 1 }, (_, i) => i + 1) : [] };
  const k = /^k(\d+)$/.exec(name);
  const t = name.startsWith('star') ? star : k ? tree(Number(k[1])) : undefined;
  if (OP === 'barrier') {
    if (name === 'lib') return () => comm.barrier();
    if (name === 'dis') return () => dissemination(tag);
    if (t) return () => barrierOver(t, tag, name === 'star-asc');
  } else {
    if (name === 'lib') return () => comm.allreduce(data, Op.SUM, { into });
    if (name === 'dis') return () => doubling(tag);
    if (t) return () => allreduceOver(t, tag, name === 'star-asc', name === 'star-eager');
  }
  throw new Error(`unknown shape ${name} for ${OP}`);
}

const shapes = SHAPES.map((name, i) => ({ name, call: shapeCall(name, 100 + i), times: [], cpu: 0 }));
for (const s of shapes) for (let i = 0; i < WARMUP; i++) await s.call();
await comm.barrier();

for (let round = 0; round < ROUNDS; round++) {
  for (let j = 0; j < shapes.length; j++) {
    const s = shapes[(j + round) % shapes.length];
    await comm.barrier();
    const c0 = process.cpuUsage();
    for (let i = 0; i < BLOCK; i++) {
      const t0 = performance.now();
      await s.call();
      s.times.push(performance.now() - t0);
    }
    const c = process.cpuUsage(c0);
    s.cpu += (c.user + c.system) / 1000;
  }
}

for (const s of shapes) {
  const slowest = await comm.reduce(Float64Array.from(s.times), Op.MAX, 0);
  const cpu = await comm.reduce(s.cpu, Op.SUM, 0);
  if (rank === 0) {
    const sorted = Array.from(slowest).sort((a, b) => a - b);
    const n = sorted.length;
    const mean = sorted.reduce((a, b) => a + b, 0) / n;
    const row = {
      bench: 'coll-shapes', op: OP, shape: s.name, ranks: size, calls: n, p50_us: Math.round(sorted[n >> 1] * 1000), mean_us: Math.round(mean * 1000),
      cpu_us_per_call: Math.round((cpu / n) * 1000), root_cpu_us_per_call: Math.round((s.cpu / n) * 1000),
    };
    process.stdout.write(JSON.stringify(row) + '\n');
  }
}
if (rank === 0) process.stderr.write(`load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
await comm.close();
