// CPU per collective call with every rank in this one process (one init()
// per rank, real TCP over loopback, as the tests run them): the work of a
// call, all ranks together, without the scheduling between rank processes
// that dominates wall times on a small shared machine. Not part of the driver.
//   node bench/coll-inproc.mjs                          allreduce, the three algorithms interleaved
//   OP=bcast FMI_BENCH_SIZES=1m node bench/coll-inproc.mjs       bcast from rank 0
//   FMI_DIST=/tmp/base/dist OP=bcast node bench/coll-inproc.mjs   an earlier build, for before/after
//
// Environment: OP=allreduce|bcast, N ranks (default 4), FMI_BENCH_SIZES (e.g.
// 256k,1m,4m), INTO=1 (results into reused buffers), ALGOS (allreduce:
// default recursive-doubling,rabenseifner,ring), ROUNDS (default 10).
// stdout: one line per size: the median and lowest CPU (user + system) per
// call over the rounds, and minor page faults per call.

import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { sizesFrom } from './lib/common.mjs';

const dist = process.env.FMI_DIST ? pathToFileURL(process.env.FMI_DIST + '/').href : new URL('../dist/', import.meta.url).href;
const { init, RendezvousServer, Op } = await import(dist + 'index.js');
const OP = process.env.OP || 'allreduce';
const size = Number(process.env.N || 4);
const INTO = process.env.INTO === '1';
const ROUNDS = Number(process.env.ROUNDS || 10);
const ALGOS = OP === 'allreduce' ? (process.env.ALGOS || 'recursive-doubling,rabenseifner,ring').split(',') : ['binomial'];

const server = new RendezvousServer();
const addr = await server.listen();
const job = randomUUID();
const comms = await Promise.all(Array.from({ length: size }, (_, rank) => init({ rank, size, job, rendezvous: addr, env: {} })));
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

for (const bytes of sizesFrom([256 * 1024, 1024 * 1024, 4 * 1024 * 1024])) {
  let call;
  if (OP === 'allreduce') {
    const data = comms.map((c) => new Float64Array(bytes / 8).fill(c.rank + 1));
    const into = comms.map(() => new Float64Array(bytes / 8));
    call = (a) => Promise.all(comms.map((c, r) => c.allreduce(data[r], Op.SUM, INTO ? { algorithm: a, into: into[r] } : { algorithm: a })));
  } else {
    const payload = new Uint8Array(bytes).fill(7);
    const into = comms.map(() => new Uint8Array(bytes));
    call = () => Promise.all(comms.map((c, r) => c.bcast(r === 0 ? payload : undefined, 0, INTO ? { into: into[r] } : {})));
  }
  for (const a of ALGOS) for (let i = 0; i < 5; i++) await call(a);
  const batch = Math.max(3, Math.round(4e6 / bytes));
  const cpu = Object.fromEntries(ALGOS.map((a) => [a, []]));
  const faults = Object.fromEntries(ALGOS.map((a) => [a, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < ALGOS.length; k++) {
      const a = ALGOS[(k + round) % ALGOS.length];
      const c0 = process.cpuUsage();
      const f0 = process.resourceUsage().minorPageFault;
      for (let i = 0; i < batch; i++) await call(a);
      const c = process.cpuUsage(c0);
      cpu[a].push((c.user + c.system) / batch);
      faults[a].push((process.resourceUsage().minorPageFault - f0) / batch);
    }
  }
  const cells = ALGOS.map((a) => `${a} ${(median(cpu[a]) / 1000).toFixed(2)} ms (min ${(Math.min(...cpu[a]) / 1000).toFixed(2)}, faults ${median(faults[a]).toFixed(0)})`);
  console.log(`${OP} ${bytes} B, ${size} ranks${INTO ? ', into' : ''}: CPU per call, all ranks: ${cells.join(' | ')}`);
}
await Promise.all(comms.map((c) => c.close()));
await server.close();
