// bcast and allreduce (Float64Array, Op.SUM) on each of fmi's channels:
// direct TCP, Redis and S3, one forced at a time with `fmi run --channel`.
//   npm run build && node bench/channels.mjs
//   FMI_BENCH=channels npm run bench          (the same, through the driver)
//
// Starts its own servers: a redis-server on a free loopback port and a
// single-node Ceph RGW (scripts/rgw-start.sh) with a bucket `fmi-bench`,
// through bench/lib/servers.sh, which stops them when this script ends,
// however it ends (even SIGKILL: its stdin closes). Writes a config JSON
// enabling all three backends, then runs bench/channels-rank.mjs on 4 ranks
// once per channel (credentials for S3 through AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY in the ranks' environment). After each channel it
// checks that the job left no keys in Redis and no objects in the bucket;
// at the end, that no daemon it started still runs.
//
// Environment (besides FMI_BENCH_QUICK, FMI_BENCH_MS, FMI_BENCH_SIZES, see
// bench/README.md):
//   FMI_BENCH_CHANNELS=direct,redis,s3   channels to run, in this order
//   FMI_BENCH_CHANNELS_RANKS=4           ranks
//   FMI_BENCH_OPS=bcast,allreduce        ops
//   FMI_BENCH_S3_ITERS=30, FMI_BENCH_S3_WARMUP=3   S3's fixed plan (quick: 5 iterations)
//   FMI_BENCH_TIMEOUT_S=600              stop one channel's run after this long
//   FMI_BENCH_CALIBRATE=1                first `fmi calibrate` the config on these
//                                        servers and ranks, so the model's numbers
//                                        are this machine's (bench/model-check.mjs)
//
// stdout: one JSON line per op, size and channel (see channels-rank.mjs);
// stderr: progress, load and CPU use per channel, then the tables
// (bench/lib/channels-table.mjs). Exit code 1 when a run failed, leaked
// keys/objects, or left a daemon behind.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eachLine, loadLine } from './lib/common.mjs';
import { channelsTables } from './lib/channels-table.mjs';
import { startServers, stillRunning } from './lib/servers.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const log = (s) => process.stderr.write(s + '\n');
const list = (v, d) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : d);
const CHANNELS = list(process.env.FMI_BENCH_CHANNELS, ['direct', 'redis', 's3']);
const RANKS = Number(process.env.FMI_BENCH_CHANNELS_RANKS ?? 4);
const TIMEOUT_MS = Number(process.env.FMI_BENCH_TIMEOUT_S ?? 600) * 1000;
const BUCKET = 'fmi-bench';

for (const c of CHANNELS) if (!['direct', 'redis', 's3'].includes(c)) fail(`FMI_BENCH_CHANNELS: unknown channel ${c} (direct, redis, s3)`);
const missing = ['dist/index.js', 'dist/cli/main.js', 'build/kernels.wasm'].filter((f) => !existsSync(join(root, f)));
if (missing.length > 0) fail(`${missing.join(', ')} missing: run \`npm run build\` first`);

const results = [];
const problems = [];
let current; // the fmi run of the moment
let interrupted;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = sig;
    log(`channels: got ${sig}; stopping`);
    current?.kill('SIGTERM');
  });
}

const t0 = performance.now();
log(`channels bench: ${RANKS} ranks, channels ${CHANNELS.join(', ')}; ${cpus().length} CPUs, load average ${loadLine()}`);
const want = [...(CHANNELS.includes('redis') ? ['redis'] : []), ...(CHANNELS.includes('s3') ? ['rgw'] : [])];
let servers;
try {
  // Even with no server to start (direct only): the config file lives in its
  // scratch directory, which goes with it whatever ends this process.
  const s0 = performance.now();
  servers = await startServers(want, log);
  if (want.length > 0) log(`servers up in ${((performance.now() - s0) / 1000).toFixed(1)} s: ${[servers.redis && `redis ${servers.redis.url}`, servers.rgw && `RGW ${servers.rgw.endpoint}`].filter(Boolean).join(', ')}`);
  if (servers?.rgw) await withS3((c, cmd) => c.send(new cmd.CreateBucketCommand({ Bucket: BUCKET })));
  const config = {
    backends: {
      Direct: { enabled: true },
      ...(servers?.redis ? { Redis: { enabled: true, url: servers.redis.url } } : {}),
      ...(servers?.rgw ? { S3: { enabled: true, bucket_name: BUCKET, s3_region: servers.rgw.region, endpoint: servers.rgw.endpoint } } : {}),
    },
  };
  const cfgPath = join(servers.dir, 'fmi.json');
  writeFileSync(cfgPath, JSON.stringify(config, null, 2));
  if (process.env.FMI_BENCH_CALIBRATE && process.env.FMI_BENCH_CALIBRATE !== '0') await calibrateConfig(cfgPath);

  for (const channel of CHANNELS) {
    if (interrupted) break;
    const ok = await runChannel(channel, cfgPath);
    await checkLeaks(channel, ok);
  }
} catch (err) {
  problems.push(err.message);
} finally {
  if (servers) {
    const s0 = performance.now();
    const r = await servers.stop();
    if (!r.clean) problems.push(`bench/lib/servers.sh did not report a clean stop (${r.signal ?? `code ${r.code}`})`);
    const left = stillRunning(servers.pids);
    if (left.length > 0) problems.push(`daemons still running after stop: ${left.map((p) => `${p.name} ${p.pid}`).join(', ')}`);
    else if (servers.pids.length > 0) log(`servers stopped in ${((performance.now() - s0) / 1000).toFixed(1)} s; none of their ${servers.pids.length} daemons (pids ${servers.pids.map((p) => p.pid).join(' ')}) is left`);
  }
}

log(`\ntotal ${((performance.now() - t0) / 1000).toFixed(1)} s; load average now ${loadLine()}`);
// Under bench/run.mjs, the driver prints the tables at its end.
if (!process.env.FMI_BENCH_DRIVER) log(channelsTables(results));
for (const p of problems) log(`PROBLEM: ${p}`);
process.exitCode = interrupted ? 128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 }[interrupted] ?? 0) : problems.length > 0 ? 1 : 0;

// ---------------------------------------------------------------------------

function runChannel(channel, cfgPath) {
  const title = `channels ${channel}, ${RANKS} ranks`;
  const started = performance.now();
  const cpu0 = cpuTicks();
  log(`\n== ${title}  (load average ${loadLine()})`);
  const env = rankEnv();
  const args = [join(root, 'dist/cli/main.js'), 'run', '-n', String(RANKS), '--no-prefix', '--config', cfgPath, '--channel', channel, join(here, 'channels-rank.mjs')];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env });
    current = child;
    let count = 0;
    const line = (l) => {
      if (l.startsWith('{')) {
        try {
          const r = JSON.parse(l);
          results.push(r);
          count++;
          process.stdout.write(l + '\n');
          const s3 = r.s3_put !== undefined ? `  S3 req/call: ${r.s3_put} PUT ${r.s3_get} GET ${r.s3_miss} miss` : '';
          log(`   ${r.op.padEnd(9)} ${String(r.bytes).padStart(8)} B  p50 ${fmt(r.p50_us)}  p99 ${fmt(r.p99_us)}  model ${fmt(r.model_us)} $${(r.stats_usd ?? NaN).toExponential(2)}  (${r.iters} iters)${s3}`);
          return;
        } catch {
          /* not a result: fall through */
        }
      }
      if (l.trim()) log(`   | ${l}`);
    };
    const lines = eachLine(child.stdout, line);
    const timer = setTimeout(() => {
      problems.push(`${title}: no exit after ${TIMEOUT_MS / 1000} s, stopped`);
      child.kill('SIGTERM');
    }, TIMEOUT_MS);
    child.on('error', (err) => problems.push(`${title}: could not start: ${err.message}`));
    child.on('close', async (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      await lines;
      if (code !== 0) problems.push(`${title}: exited with ${signal ?? `code ${code}`} after ${count} results`);
      const use = cpuUse(cpu0, cpuTicks());
      const note = use ? `; CPUs busy: benchmark ranks ${use.bench.toFixed(2)}, its servers ${use.servers.toFixed(2)}, other work ${use.other.toFixed(2)}` : '';
      log(`   (${((performance.now() - started) / 1000).toFixed(1)} s${note}; load average ${loadLine()})`);
      resolve(code === 0);
    });
  });
}

/** `fmi calibrate` on the channels measured here: the config's model becomes this machine's. */
function calibrateConfig(cfgPath) {
  log(`\n== fmi calibrate --config ${cfgPath} -n ${RANKS} --channels ${CHANNELS.join(',')}  (load average ${loadLine()})`);
  const args = [join(root, 'dist/cli/main.js'), 'calibrate', '--config', cfgPath, '-n', String(RANKS), '--channels', CHANNELS.join(','), '--json'];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: rankEnv() });
    current = child;
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      current = undefined;
      if (code !== 0) return reject(new Error(`fmi calibrate exited with ${signal ?? `code ${code}`}`));
      const r = JSON.parse(out);
      for (const [c, f] of Object.entries(r.channels)) {
        const tot = f.beta_total_bytes_s ? `, all ranks at once ${(f.beta_total_bytes_s / 1e6).toPrecision(3)} MB/s` : '';
        if (c === Object.keys(r.channels)[0] && r.fresh_s_per_byte !== undefined) log(`   fresh memory: ${((r.fresh_s_per_call ?? 0) * 1e3).toPrecision(3)} ms per result + ${(r.fresh_s_per_byte * 2 ** 20 * 1e3).toPrecision(3)} ms per MiB`);
        const ms = (s) => (s * 1e3).toPrecision(3);
        const coll = f.alpha_coll_s !== undefined ? `, hop in a collective ${ms(f.alpha_coll_s)} ms${f.alpha_barrier_s !== undefined ? `, in the barrier ${ms(f.alpha_barrier_s)} ms` : ''}, fan-out ${f.alpha_fan_s !== undefined ? ms(f.alpha_fan_s) : '-'} ms, exchange round ${ms(f.exchange_alpha_s ?? 0)} ms + bytes at ${((f.exchange_beta_bytes_s ?? 0) / 1e6).toPrecision(3)} MB/s` : '';
        log(`   ${c}: overhead ${ms(f.alpha_s)} ms, bandwidth ${(f.beta_bytes_s / 1e6).toPrecision(3)} MB/s${tot}, gap ${ms(f.gap_s ?? 0)} ms${coll} (from ${f.source}; worst point off the line by ${(f.max_rel_error * 100).toFixed(0)}%)`);
      }
      process.stdout.write(JSON.stringify({ bench: 'calibrate', ranks: RANKS, model: r.model, channels: Object.fromEntries(Object.entries(r.channels).map(([c, f]) => [c, { source: f.source, alpha_s: f.alpha_s, beta_bytes_s: f.beta_bytes_s, beta_total_bytes_s: f.beta_total_bytes_s, gap_s: f.gap_s, points: f.points, exchange: f.exchange, barrier: f.barrier, allreduce: f.allreduce, fanout: f.fanout, fanin: f.fanin, burst: f.burst }])) }) + '\n');
      resolve();
    });
  });
}

/** The ranks' environment: S3 credentials of the RGW started here. */
function rankEnv() {
  const env = { ...process.env, FMI_TIMEOUT_MS: process.env.FMI_TIMEOUT_MS ?? '120000' };
  if (servers?.rgw) {
    env.AWS_ACCESS_KEY_ID = servers.rgw.accessKeyId;
    env.AWS_SECRET_ACCESS_KEY = servers.rgw.secretAccessKey;
    env.AWS_REGION = servers.rgw.region;
  }
  return env;
}

/** What a job left behind: keys in Redis, objects in the bucket. Both should be empty after close(). */
async function checkLeaks(channel, closed) {
  // A job that was stopped never closed its channels: what it left is expected then.
  const why = closed ? 'after the job closed' : 'by the job that was stopped (it never closed; expected)';
  try {
    if (channel === 'redis' && servers?.redis) {
      const { Redis } = await import('ioredis');
      const r = new Redis(servers.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        const keys = await r.keys('*');
        if (keys.length > 0) {
          problems.push(`redis: ${keys.length} keys left ${why}, e.g. ${keys.slice(0, 3).join(', ')}`);
          await r.flushall();
        } else log('   redis: no keys left behind');
      } finally {
        r.disconnect();
      }
    }
    if (channel === 's3' && servers?.rgw) {
      const keys = await withS3(async (c, cmd) => {
        const out = [];
        let token;
        do {
          const page = await c.send(new cmd.ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
          for (const o of page.Contents ?? []) out.push(o.Key);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return out;
      });
      if (keys.length > 0) problems.push(`s3: ${keys.length} objects left in bucket ${BUCKET} ${why}, e.g. ${keys.slice(0, 3).join(', ')}`);
      else log(`   s3: no objects left in bucket ${BUCKET}`);
    }
  } catch (err) {
    problems.push(`leak check on ${channel} failed: ${err.message}`);
  }
}

async function withS3(fn) {
  const cmd = await import('@aws-sdk/client-s3');
  const client = new cmd.S3Client({
    endpoint: servers.rgw.endpoint,
    region: servers.rgw.region,
    credentials: { accessKeyId: servers.rgw.accessKeyId, secretAccessKey: servers.rgw.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    return await fn(client, cmd);
  } finally {
    client.destroy();
  }
}

function fmt(us) {
  if (us === undefined || us === null) return '       -';
  return (us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`).padStart(9);
}

/**
 * CPU time so far in clock ticks (USER_HZ): all CPUs busy; this process and
 * its waited-for children (fmi run and its ranks); the servers' daemons
 * (not our children: read from /proc by pid).
 */
function cpuTicks() {
  try {
    const all = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal = 0] = all;
    const fields = (pid) => {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return s.slice(s.lastIndexOf(')') + 2).split(' ');
    };
    const me = fields('self');
    let srv = 0;
    for (const { pid } of servers?.pids ?? []) {
      try {
        const f = fields(pid);
        srv += Number(f[11]) + Number(f[12]);
      } catch {
        /* gone */
      }
    }
    return { busy: user + nice + system + irq + softirq + steal, ours: Number(me[11]) + Number(me[12]) + Number(me[13]) + Number(me[14]), srv, t: performance.now() };
  } catch {
    return undefined;
  }
}

function cpuUse(a, b) {
  if (!a || !b) return undefined;
  const ticks = ((b.t - a.t) / 1000) * 100;
  if (ticks <= 0) return undefined;
  const bench = (b.ours - a.ours) / ticks;
  const srv = (b.srv - a.srv) / ticks;
  return { bench, servers: srv, other: Math.max(0, (b.busy - a.busy) / ticks - bench - srv) };
}

function fail(msg) {
  log(`channels: ${msg}`);
  process.exit(2);
}
