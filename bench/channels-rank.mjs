// One rank of bench/channels.mjs: bcast and allreduce (Float64Array, Op.SUM)
// over whatever channel `fmi run --channel` forced, with the cost model's
// numbers next to the measured ones. Started by bench/channels.mjs:
//   node dist/cli/main.js run -n 4 --no-prefix --config CFG --channel s3 bench/channels-rank.mjs
//
// bcast: rank 0 is the root; a barrier (not timed) comes before every call,
// as in the OSU bcast benchmark, because back-to-back broadcasts let the
// root run ahead and the receivers then time data that is already there.
// A barrier does not release all ranks at once, though: on Redis and S3 rank
// 0 writes the release and leaves first, by about one read. So each rank
// notes when it called bcast and when it returned, on the host's monotonic
// clock (process.hrtime, shared by all processes of one machine), and a
// rank's time is from max(its call, the root's call) to its return: from the
// moment both the data and the reader were there. The sample is the slowest
// rank's; p50_local_us / p99_local_us give the plain per-rank call times
// (max over ranks) for comparison.
// allreduce: calls back to back, as in bench/allreduce.mjs. Every rank times
// every call; a sample is the slowest rank's time (per-iteration max over the
// ranks, collected with reduce(MAX) after the size).
//
// Iterations: direct and redis first run each op FMI_BENCH_WARM_CALLS
// (default 2000; quick 100) times at 1 KiB, at most 6 s, untimed (see
// warmUp), then adapt to the speed as every benchmark here does
// (bench/lib/common.mjs: ~FMI_BENCH_MS per size, 100 to 200,000 samples,
// at most ~4 s). S3 takes tens of ms per call, so it runs a fixed plan:
// FMI_BENCH_S3_WARMUP (default 3; 5 for the first size) warm-up calls, then
// FMI_BENCH_S3_ITERS (default 30; quick 5) measured ones.
//
// stdout (rank 0): one JSON line per op and size:
//   {bench:'channels', op, channel, ranks, bytes, iters, p50_us, p99_us, mb_s,
//    model_us, model_usd, stats_usd, stats_ms, ...s3 request counts}
// model_us / model_usd: the cost model's time and USD for this op, channel,
// size and rank count (Policy.estimate). stats_usd: comm.stats()'s
// modeledCostUsd per call over the measured calls (should equal model_usd);
// stats_ms: stats()' timeMs per call at rank 0 (this rank's own time).
// On S3 the line also has what the ranks really asked S3 during the timed
// calls, summed over all ranks, per call: s3_put, s3_get (hits), s3_miss
// (polls that found nothing), s3_other (deletes, lists), the mean latency of
// one PUT and one GET hit (ms, to response headers), and the model's
// expected model_puts / model_gets / model_polls.

import { init, loadConfig, Op, Policy } from 'fmi';
import { S3Client } from '@aws-sdk/client-s3';
import { KiB, MiB, QUICK, itersFor, round3, sizesFrom, summarize, warmupMsFor } from './lib/common.mjs';

// --- S3 request accounting (instrumentation only: wraps the SDK client's send) ---
// The channel's own counters are private to it; this sees the same requests.
const s3 = { put: 0, get: 0, miss: 0, other: 0, putMs: 0, getMs: 0, missMs: 0 };
{
  const send = S3Client.prototype.send;
  S3Client.prototype.send = function countedSend(command, ...rest) {
    const name = command?.constructor?.name ?? '';
    const t0 = performance.now();
    const p = send.call(this, command, ...rest);
    p.then(
      () => {
        const ms = performance.now() - t0;
        if (name === 'PutObjectCommand') {
          s3.put++;
          s3.putMs += ms;
        } else if (name === 'GetObjectCommand') {
          s3.get++;
          s3.getMs += ms;
        } else s3.other++;
      },
      (err) => {
        const ms = performance.now() - t0;
        if (name === 'GetObjectCommand' && err?.$metadata?.httpStatusCode === 404) {
          s3.miss++;
          s3.missMs += ms;
        } else if (err?.$metadata?.httpStatusCode !== undefined) s3.other++;
      },
    );
    return p;
  };
}
const S3_KEYS = Object.keys(s3);
const snap = () => S3_KEYS.map((k) => s3[k]);
/** ms on CLOCK_MONOTONIC: comparable between the processes of one machine (performance.now() is per process). */
const now = () => Number(process.hrtime.bigint()) / 1e6;

const comm = await init();
const { rank, size } = comm;
const channel = process.env.FMI_CHANNEL || 'auto';
const isS3 = channel === 's3';
const config = process.env.FMI_CONFIG ? loadConfig(process.env.FMI_CONFIG) : undefined;
const policy = config && channel !== 'auto' ? new Policy(config, { ranks: size, channels: [channel] }) : undefined;

const SIZES = sizesFrom([8, KiB, 64 * KiB, MiB]);
const OPS = (process.env.FMI_BENCH_OPS ?? 'bcast,allreduce').split(',').map((s) => s.trim()).filter(Boolean);
const S3_ITERS = Number(process.env.FMI_BENCH_S3_ITERS ?? (QUICK ? 5 : 30));
const S3_WARMUP = Number(process.env.FMI_BENCH_S3_WARMUP ?? 3);
const expectedSum = (size * (size + 1)) / 2;

// V8 optimizes a function (TurboFan) only after many calls, and until then a
// call takes 2-3 times its later time: a 1 KiB Redis bcast took 1.30 ms over
// its first 250 calls and 0.45 ms after 2,000 (4 ranks under chrt -r 1, load
// 12; with V8's --no-opt it stayed at 1.1 ms). The first size measured was
// that cold one. The cost model prices the steady state (fmi calibrate warms
// up as well), so each op first runs WARM_CALLS times at 1 KiB (for at most
// WARM_MS) before anything is timed. Not on S3: its fixed plan of calls that
// take tens of ms each is left as it was.
const WARM_CALLS = Number(process.env.FMI_BENCH_WARM_CALLS ?? (QUICK ? 100 : 2000));
const WARM_MS = QUICK ? 500 : 6000;

for (const op of OPS) if (op !== 'bcast' && op !== 'allreduce') throw new Error(`FMI_BENCH_OPS: unknown op ${op} (bcast, allreduce)`);
if (!isS3) for (const op of OPS) await warmUp(op);
let first = true;
for (const op of OPS) {
  for (const bytes of SIZES) {
    await measure(op, bytes, first);
    first = false;
  }
}
await comm.close();

/** `op` at 1 KiB, WARM_CALLS times or for WARM_MS, in batches of 50; rank 0's count and clock decide. */
async function warmUp(op) {
  const data = new Float64Array(128).fill(1);
  const t0 = performance.now();
  for (let calls = 0; ; ) {
    for (let i = 0; i < 50; i++) {
      if (op === 'bcast') {
        await comm.barrier();
        await comm.bcast(rank === 0 ? data : undefined, 0);
      } else await comm.allreduce(data, Op.SUM);
    }
    calls += 50;
    const more = rank === 0 ? Float64Array.of(calls < WARM_CALLS && performance.now() - t0 < WARM_MS ? 1 : 0) : undefined;
    if ((await comm.bcast(more, 0))[0] !== 1) return;
  }
}

async function measure(op, bytes, isFirst) {
  const len = Math.max(1, Math.floor(bytes / 8));
  const nbytes = len * 8;
  const data = new Float64Array(len);
  if (op === 'allreduce') data.fill(rank + 1);
  else if (rank === 0) for (let i = 0; i < len; i++) data[i] = i + 0.5;
  let out;
  const req = new Float64Array(S3_KEYS.length);
  // Times `call` alone; on S3 also adds the requests made meanwhile to `req` when `count` is set.
  // bcast: when each call started and ended (ms on the monotonic clock), by iteration.
  let starts;
  let ends;
  let at = 0;
  const timed = async (call, count) => {
    const before = count && isS3 ? snap() : undefined;
    const s = now();
    out = await call();
    const e = now();
    if (count && starts) {
      starts[at] = s;
      ends[at++] = e;
    }
    if (before) {
      const after = snap();
      for (let k = 0; k < req.length; k++) req[k] += after[k] - before[k];
    }
    return e - s;
  };
  const once =
    op === 'bcast'
      ? async (count) => {
          await comm.barrier();
          return timed(() => comm.bcast(rank === 0 ? data : undefined, 0, { bytes: nbytes }), count);
        }
      : (count) => timed(() => comm.allreduce(data, Op.SUM), count);

  const cmd = new Float64Array(2); // [calls, measured?]
  let samples;
  let n = isS3 ? (isFirst ? S3_WARMUP + 2 : S3_WARMUP) : 1;
  let spent = 0;
  let iters = 0;
  let stats0;
  for (;;) {
    if (rank === 0) {
      cmd[0] = n;
      cmd[1] = samples ? 1 : 0;
    }
    const c = await comm.bcast(rank === 0 ? cmd : undefined, 0);
    const count = c[0];
    const measured = c[1] === 1;
    if (measured) {
      samples = new Float64Array(count);
      if (op === 'bcast') {
        starts = new Float64Array(count);
        ends = new Float64Array(count);
      }
      stats0 = comm.stats()[op];
    }
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const t = await once(measured);
      if (measured) samples[i] = t;
    }
    const dt = performance.now() - t0;
    if (measured) {
      iters = count;
      break;
    }
    if (rank === 0) {
      if (isS3) {
        n = S3_ITERS;
        samples = true; // next batch is measured
      } else {
        spent += dt;
        if (spent >= warmupMsFor(isFirst) && n >= 4) {
          n = itersFor(dt / n);
          samples = true;
        } else n *= 2;
      }
    }
  }
  const stats1 = comm.stats()[op];
  check(op, out, len);
  let local;
  if (op === 'bcast') {
    // From max(this rank's call, the root's call) to this rank's return.
    const rootStarts = await comm.bcast(rank === 0 ? starts : undefined, 0);
    local = await comm.reduce(samples, Op.MAX, 0);
    for (let i = 0; i < iters; i++) samples[i] = ends[i] - Math.max(starts[i], rootStarts[i]);
  }
  const slowest = await comm.reduce(samples, Op.MAX, 0);
  const requests = isS3 ? await comm.reduce(req, Op.SUM, 0) : undefined;
  if (rank !== 0) return;

  const s = summarize(slowest, iters);
  const calls = stats1.calls - (stats0?.calls ?? 0);
  const line = {
    bench: 'channels',
    op,
    channel,
    ranks: size,
    bytes: nbytes,
    iters,
    p50_us: s.p50_us,
    p99_us: s.p99_us,
    mb_s: round3(nbytes / s.p50_us),
  };
  if (local) {
    const l = summarize(local, iters);
    line.p50_local_us = l.p50_us;
    line.p99_local_us = l.p99_us;
  }
  const est = policy?.estimate(channel, op, nbytes);
  if (est) {
    line.model_us = round3(est.time_s * 1e6);
    line.model_usd = est.cost_usd;
  }
  line.stats_usd = calls > 0 ? (stats1.modeledCostUsd - (stats0?.modeledCostUsd ?? 0)) / calls : null;
  line.stats_ms = calls > 0 ? round3((stats1.timeMs - (stats0?.timeMs ?? 0)) / calls) : null;
  line.stats_channels = diffChannels(stats0?.channels ?? {}, stats1.channels);
  if (requests) {
    const r = Object.fromEntries(S3_KEYS.map((k, i) => [k, requests[i]]));
    line.s3_put = round3(r.put / iters);
    line.s3_get = round3(r.get / iters);
    line.s3_miss = round3(r.miss / iters);
    line.s3_other = round3(r.other / iters);
    line.s3_put_ms = r.put ? round3(r.putMs / r.put) : null;
    line.s3_get_ms = r.get ? round3(r.getMs / r.get) : null;
    line.s3_miss_ms = r.miss ? round3(r.missMs / r.miss) : null;
    if (est) {
      line.model_puts = est.requests.puts;
      line.model_gets = est.requests.gets;
      line.model_polls = round3(est.requests.polls);
    }
  }
  process.stdout.write(JSON.stringify(line) + '\n');
}

function check(op, out, len) {
  if (!(out instanceof Float64Array) || out.length !== len) throw new Error(`${op}: rank ${rank} got ${out?.constructor?.name} of length ${out?.length}, expected Float64Array(${len})`);
  if (op === 'allreduce') {
    if (out[0] !== expectedSum || out[len - 1] !== expectedSum) throw new Error(`allreduce: rank ${rank} got ${out[0]}..${out[len - 1]}, expected ${expectedSum}`);
  } else if (out[0] !== 0.5 || out[len - 1] !== len - 0.5) {
    throw new Error(`bcast: rank ${rank} got ${out[0]}..${out[len - 1]}, expected 0.5..${len - 0.5}`);
  }
}

function diffChannels(a, b) {
  const out = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}
