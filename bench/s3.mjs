// send -> recv latency through fmi's S3 channel, next to the floor measured
// in the same process against the same server: one PutObject then one
// GetObject of the same key with the SDK (what a receiver that knew exactly
// when the object lands would pay).
//
//   npm run build && node bench/s3.mjs
//
// Without FMI_BENCH_S3_ENDPOINT it starts a local Ceph RADOS Gateway with
// scripts/rgw-start.sh (needs Debian's ceph-mon ceph-osd radosgw ceph-common)
// and stops it at the end. With it, it uses that server: credentials from the
// SDK's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY...), AWS_REGION, and
// the existing bucket FMI_BENCH_S3_BUCKET (default fmi-bench).
//
// fmi: rank 1 posts a receive (into a preallocated buffer), then rank 0 sends;
// a sample is the time from the send call until the receive resolves. The
// receiver polls with the channel's default policy (5 ms, x1.5, up to 200 ms),
// so a message waits on average half a backoff step for the next GET.
// requests_per_msg: every request both ranks made while measuring (PUT, GET,
// GETs that found nothing, batched DELETEs) per message.
// raw-sdk: PUT + GET, 2 requests; its objects are deleted after the size.
//
// FMI_BENCH_S3_POLL=initialMs,maxMs,factor,jitter sets the receiver's poll
// policy (default 5,200,1.5,0.2): a shorter first step trades GETs for latency.
//
// stdout: one JSON line per result:
//   {bench:'s3-p2p', impl:'fmi'|'raw-sdk', bytes, iters, p50_us, p99_us, requests_per_msg}
// stderr: progress and a table. FMI_BENCH_SIZES, FMI_BENCH_MS, FMI_BENCH_QUICK
// as for the other benchmarks (bench/README.md).

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KiB, MiB, fillPattern, fmtBytes, itersFor, loadLine, round3, sizesFrom, summarize, warmupMsFor } from './lib/common.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } = await import('@aws-sdk/client-s3');

const root = fileURLToPath(new URL('..', import.meta.url));
const distEntry = join(root, 'dist/channels/s3/index.js');
if (!existsSync(distEntry)) {
  console.error('bench/s3.mjs: dist/ is missing; run `npm run build` first');
  process.exit(1);
}
const { S3Channel, cleanJob } = await import(distEntry);

const SIZES = sizesFrom([8, 64, KiB, 16 * KiB, 256 * KiB, MiB]);
const POLL = process.env.FMI_BENCH_S3_POLL
  ? Object.fromEntries(process.env.FMI_BENCH_S3_POLL.split(',').map((v, i) => [['initialMs', 'maxMs', 'factor', 'jitter'][i], Number(v)]))
  : undefined;
const log = (s) => process.stderr.write(s + '\n');

// --- the server ----------------------------------------------------------

let stopServer = () => {};
let location;
if (process.env.FMI_BENCH_S3_ENDPOINT) {
  location = {
    endpoint: process.env.FMI_BENCH_S3_ENDPOINT,
    region: process.env.AWS_REGION,
    bucket: process.env.FMI_BENCH_S3_BUCKET ?? 'fmi-bench',
  };
} else {
  const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-rgw-'));
  const t0 = performance.now();
  try {
    execFileSync(join(root, 'scripts/rgw-start.sh'), [dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    log(`bench/s3.mjs: could not start RGW:\n${err.stderr?.toString() ?? err.message}`);
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  }
  const env = Object.fromEntries(readFileSync(join(dir, 'rgw.env'), 'utf8').trim().split('\n').map((l) => l.split('=')));
  log(`RGW at ${env.RGW_ENDPOINT}, started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  let stopped = false;
  stopServer = () => {
    if (stopped) return;
    stopped = true;
    execFileSync(join(root, 'scripts/rgw-stop.sh'), [dir], { stdio: 'ignore' });
  };
  // Whatever ends the process (an error, Ctrl-C), the daemons go with it.
  process.once('exit', stopServer);
  location = {
    endpoint: env.RGW_ENDPOINT,
    region: env.RGW_REGION,
    credentials: { accessKeyId: env.RGW_ACCESS_KEY, secretAccessKey: env.RGW_SECRET_KEY },
    bucket: 'fmi-bench',
  };
}
// Ctrl-C: exit, so the 'exit' handler stops the server.
process.on('SIGINT', () => process.exit(130));

const client = new S3Client({
  endpoint: location.endpoint,
  region: location.region ?? 'us-east-1',
  credentials: location.credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
if (!process.env.FMI_BENCH_S3_ENDPOINT) await client.send(new CreateBucketCommand({ Bucket: location.bucket }));

// --- the two implementations ---------------------------------------------

/** Runs `once` for warm-up, then for the planned iterations; returns samples (ms). */
async function measure(once, first) {
  const warmEnd = performance.now() + warmupMsFor(first);
  let warm = 0;
  const w0 = performance.now();
  do {
    await once(-1 - warm);
    warm++;
  } while (performance.now() < warmEnd || warm < 3);
  const iters = itersFor((performance.now() - w0) / warm);
  const samples = new Float64Array(iters);
  for (let i = 0; i < iters; i++) samples[i] = await once(i);
  return samples;
}

async function rawSdk(bytes, first) {
  const job = `bench-raw-${randomUUID()}`;
  const payload = new Uint8Array(bytes);
  fillPattern(payload, 7);
  const samples = await measure(async (i) => {
    const Key = `fmi/${job}/${i}`;
    const t0 = performance.now();
    await client.send(new PutObjectCommand({ Bucket: location.bucket, Key, Body: payload }));
    const res = await client.send(new GetObjectCommand({ Bucket: location.bucket, Key }));
    const got = await res.Body.transformToByteArray();
    const t = performance.now() - t0;
    if (got.byteLength !== bytes || got[bytes - 1] !== payload[bytes - 1]) throw new Error('raw-sdk: wrong bytes back');
    return t;
  }, first);
  await cleanJob({ ...location, job });
  return { samples, requestsPerMsg: 2 };
}

async function fmi(bytes, first) {
  const job = `bench-${randomUUID()}`;
  const [a, b] = await Promise.all([0, 1].map((rank) => S3Channel.create({ ...location, job, rank, size: 2, poll: POLL })));
  const payload = new Uint8Array(bytes);
  fillPattern(payload, 3);
  const into = new Uint8Array(bytes);
  const env = { ctx: 0, tag: 0, kind: 11 };
  const req = { source: 0, ctx: 0, tag: 0, into };
  let counted = false;
  let before = 0;
  const samples = await measure(async (i) => {
    if (i === 0 && !counted) {
      counted = true;
      before = a.requests.total + b.requests.total;
    }
    const t0 = performance.now();
    const r = b.recv(req);
    await a.send(1, env, payload);
    const m = await r;
    const t = performance.now() - t0;
    if (m.data.byteLength !== bytes || m.data[bytes - 1] !== payload[bytes - 1]) throw new Error('fmi: wrong bytes back');
    return t;
  }, first);
  // Let the last batch of deletes go out, then count.
  await new Promise((r) => setTimeout(r, 50));
  const requests = a.requests.total + b.requests.total - before;
  await Promise.all([a.close(), b.close()]);
  return { samples, requestsPerMsg: requests / samples.length };
}

// --- run ------------------------------------------------------------------

log(`s3 send->recv, sizes ${SIZES.map(fmtBytes).join(' ')}; poll ${JSON.stringify(POLL ?? 'default')}; load ${loadLine()}`);
const rows = [];
try {
  let first = true;
  for (const bytes of SIZES) {
    const row = { bytes };
    for (const [impl, run] of [['raw-sdk', rawSdk], ['fmi', fmi]]) {
      const { samples, requestsPerMsg } = await run(bytes, first);
      first = false;
      const s = summarize(samples, samples.length);
      const line = { bench: 's3-p2p', impl, bytes, iters: samples.length, p50_us: s.p50_us, p99_us: s.p99_us, requests_per_msg: round3(requestsPerMsg) };
      process.stdout.write(JSON.stringify(line) + '\n');
      row[impl] = line;
    }
    rows.push(row);
    log(`  ${fmtBytes(bytes)} done; load ${loadLine()}`);
  }
} finally {
  client.destroy();
  stopServer();
}

const ms = (us) => (us / 1000).toFixed(2).padStart(8);
log('');
log('   size | raw p50 ms | fmi p50 ms | ratio | raw p99 ms | fmi p99 ms | ratio | fmi req/msg');
log('--------+------------+------------+-------+------------+------------+-------+------------');
for (const r of rows) {
  const raw = r['raw-sdk'];
  const f = r.fmi;
  log(
    `${fmtBytes(r.bytes).padStart(7)} | ${ms(raw.p50_us)}   | ${ms(f.p50_us)}   | ${(f.p50_us / raw.p50_us).toFixed(2).padStart(5)} | ${ms(raw.p99_us)}   | ${ms(f.p99_us)}   | ${(f.p99_us / raw.p99_us).toFixed(2).padStart(5)} | ${f.requests_per_msg.toFixed(2).padStart(10)}`,
  );
}
log(`load ${loadLine()}`);
