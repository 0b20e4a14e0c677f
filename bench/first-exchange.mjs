// First exchange between two new peers over fmi's direct channel: the time
// from rank 0's first send to rank 1 until rank 1's reply is back. That is
// the pair's whole set-up (rendezvous: challenge, proofs, introduction; TCP
// connect; the mutual challenge-response; the choice of connection) plus one
// round trip of 8 B. One sample per new job of two ranks, both in this
// process, over loopback, with one rendezvous server.
//   node bench/first-exchange.mjs
//
// Environment: FMI_BENCH_QUICK=1 (20 jobs instead of 200), FMI_BENCH_ITERS
// (jobs per variant). Variants: jobs with a secret (what `fmi run` starts),
// without one, and with a secret over a TLS rendezvous server (tls://, a
// self-signed certificate the `openssl` CLI makes in a temporary directory;
// the pairing connections are TLS too). stdout: one JSON line per variant (p50_us, p99_us of the whole
// exchange, not halved); stderr: a table.

import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { init, RendezvousServer } from 'fmi';
import { emit, loadLine, QUICK, summarize } from './lib/common.mjs';

const ITERS = Number(process.env.FMI_BENCH_ITERS ?? (QUICK ? 20 : 200));
const WARMUP = QUICK ? 2 : 10;

const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
const addr = await server.listen();

const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-tls-'));
const cert = join(dir, 'cert.pem');
const key = join(dir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
  '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
const tlsServer = new RendezvousServer({ host: '127.0.0.1', port: 0, tls: { cert: readFileSync(cert), key: readFileSync(key) } });
const tlsAddr = await tlsServer.listen();

async function once(secret, tls) {
  const job = randomUUID();
  const rendezvous = tls ? `tls://127.0.0.1:${tlsAddr.port}` : addr;
  const [a, b] = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, rendezvous, rendezvousCa: tls ? cert : undefined, secret, env: {} })));
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
const variants = ['secret', 'no-secret', 'secret+tls'];
const newSecret = (v) => (v.startsWith('secret') ? randomBytes(32).toString('base64url') : undefined);
const run = (v) => once(newSecret(v), v.endsWith('tls'));
for (let i = 0; i < WARMUP; i++) for (const v of variants) await run(v);
const samples = variants.map(() => new Float64Array(ITERS));
for (let i = 0; i < ITERS; i++) for (const [k, v] of variants.entries()) samples[k][i] = await run(v);
for (const [k, variant] of variants.entries()) {
  const s = summarize(samples[k], ITERS);
  emit({ bench: 'first-exchange', impl: 'fmi', channel: 'direct', ranks: 2, bytes: 8, iters: ITERS, ...s, variant });
  process.stderr.write(`  ${variant.padEnd(10)} p50 ${s.p50_us.toFixed(0).padStart(6)} us   p99 ${s.p99_us.toFixed(0).padStart(6)} us\n`);
}
await Promise.all([server.close(), tlsServer.close()]);
rmSync(dir, { recursive: true, force: true });
