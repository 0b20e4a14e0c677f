// First exchange between two new peers over fmi's direct channel: the time
// from rank 0's first send to rank 1 until rank 1's reply is back. That is
// the pair's whole set-up (rendezvous: challenge, proofs, introduction; TCP
// connect; the mutual challenge-response; the choice of connection) plus one
// round trip of 8 B. One sample per new job of two ranks, both in this
// process, over loopback, with one rendezvous server.
//   node bench/first-exchange.mjs
//
// Environment: FMI_BENCH_QUICK=1 (20 jobs instead of 200), FMI_BENCH_ITERS
// (jobs per variant). Variants: jobs with a secret (what `fmi run` starts) and
// without one. stdout: one JSON line per variant (p50_us, p99_us of the whole
// exchange, not halved); stderr: a table.

import { randomBytes, randomUUID } from 'node:crypto';
import { init, RendezvousServer } from 'fmi';
import { emit, loadLine, QUICK, summarize } from './lib/common.mjs';

const ITERS = Number(process.env.FMI_BENCH_ITERS ?? (QUICK ? 20 : 200));
const WARMUP = QUICK ? 2 : 10;

const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
const addr = await server.listen();

async function once(secret) {
  const job = randomUUID();
  const [a, b] = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, rendezvous: addr, secret, env: {} })));
  const ping = new Uint8Array(8);
  const into = new Uint8Array(8);
  const t0 = performance.now();
  await Promise.all([
    a.send(ping, 1),
    b.recv(0, { into }).then(() => b.send(into, 0)),
    a.recv(1, { into: new Uint8Array(8) }),
  ]);
  const ms = performance.now() - t0;
  await Promise.all([a.close(), b.close()]);
  return ms;
}

process.stderr.write(`first exchange, 2 ranks in one process, ${ITERS} jobs per variant, load ${loadLine()}\n`);
// Interleaved, so that both variants see the same machine.
const variants = ['secret', 'no-secret'];
const newSecret = (v) => (v === 'secret' ? randomBytes(32).toString('base64url') : undefined);
for (let i = 0; i < WARMUP; i++) for (const v of variants) await once(newSecret(v));
const samples = variants.map(() => new Float64Array(ITERS));
for (let i = 0; i < ITERS; i++) for (const [k, v] of variants.entries()) samples[k][i] = await once(newSecret(v));
for (const [k, variant] of variants.entries()) {
  const s = summarize(samples[k], ITERS);
  emit({ bench: 'first-exchange', impl: 'fmi', channel: 'direct', ranks: 2, bytes: 8, iters: ITERS, ...s, variant });
  process.stderr.write(`  ${variant.padEnd(10)} p50 ${s.p50_us.toFixed(0).padStart(6)} us   p99 ${s.p99_us.toFixed(0).padStart(6)} us\n`);
}
await server.close();
