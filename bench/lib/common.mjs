import { createInterface } from 'node:readline';
// Shared by the communication benchmarks: sizes, iteration planning,
// percentiles, result lines. No fmi imports here, so the raw-socket baseline
// uses the same code without loading the package.

import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Ping-pong payload sizes (bytes). */
export const PINGPONG_SIZES = [8, 64, KiB, 16 * KiB, 256 * KiB, MiB, 4 * MiB];
/** Allreduce vector sizes (bytes of Float64Array): 1 KiB, then x4 up to 16 MiB. */
export const ALLREDUCE_SIZES = [KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB];

export const QUICK = isOn(process.env.FMI_BENCH_QUICK);

/**
 * How long to measure each size, and the bounds on the iteration count.
 * Normal: ~1 s per size, at least 100 samples (so p99 means something).
 * Quick (FMI_BENCH_QUICK=1): a smoke run, ~50 ms and at least 10 samples.
 */
export const PLAN = {
  targetMs: Number(process.env.FMI_BENCH_MS ?? (QUICK ? 50 : 1000)),
  /** FMI_BENCH_WARMUP_MS: warm-up per size (the first size gets 5 times it); JIT-compiled code (fmi, the raw-socket floor) is still being optimized after the default 500 ms (bench/README.md, "Warm-up"). */
  warmupMs: Number(process.env.FMI_BENCH_WARMUP_MS ?? (QUICK ? 10 : 100)),
  /** FMI_BENCH_WARMUP_CALLS: in `steady` mode, the least warm-up calls of a run's first size (V8 optimizes what runs once per call after 1000-3000 calls; bench/README.md, "16 and 32 ranks"). */
  warmupCalls: Number(process.env.FMI_BENCH_WARMUP_CALLS ?? (QUICK ? 0 : 4000)),
  minIters: QUICK ? 10 : 100,
  maxIters: QUICK ? 2000 : 200_000,
  /** Never spend more than this on one size, even if minIters is not reached. */
  capMs: QUICK ? 500 : 4000,
};

/** Warm-up for a size: the first size of a run also warms up the JIT and the connection, so it gets longer. */
export function warmupMsFor(first) {
  return first ? PLAN.warmupMs * 5 : PLAN.warmupMs;
}

/**
 * FMI_BENCH_WARMUP: `steady` (the default) warms up until the time per call
 * stops falling; `fixed` stops once the size's warm-up time has passed, the
 * rule before 2026-12-07 (bench/README.md, "Warm-up").
 */
export const WARMUP_MODE = warmupMode(process.env.FMI_BENCH_WARMUP);

function warmupMode(v) {
  if (v === undefined || v === '' || v === 'steady') return 'steady';
  if (v === 'fixed') return 'fixed';
  throw new Error(`FMI_BENCH_WARMUP: expected steady or fixed, got ${JSON.stringify(v)}`);
}

/** A warm-up batch shorter than this says little about the time per call. */
const STEADY_BATCH_MS = 20;

/**
 * The warm-up of one size, as rank 0 plans it in doubling batches: `over(dt,
 * n)` takes each batch's time (ms) and length and says whether to measure
 * now. Never before warmupMsFor(first); in `fixed` mode right then; in
 * `steady` mode not before PLAN.warmupCalls calls of the first size (V8
 * optimizes the functions run once per call after 1000-3000 calls), then
 * once two batches of at least 20 ms in a row ran no 10 % faster per call
 * than the best before them, or at 20 times the warm-up time.
 * `spentMs`: the warm-up so far, which the result lines report.
 */
export function warmUpPlan(first) {
  const plan = { spentMs: 0, over };
  let calls = 0;
  let best = Infinity;
  let flat = 0;
  function over(dt, n) {
    plan.spentMs += dt;
    calls += n;
    if (dt >= STEADY_BATCH_MS) {
      flat = dt / n < best * 0.9 ? 0 : flat + 1;
      best = Math.min(best, dt / n);
    }
    const min = warmupMsFor(first);
    if (plan.spentMs < min || n < 4) return false;
    if (WARMUP_MODE === 'fixed') return true;
    if (first && calls < PLAN.warmupCalls) return false;
    return flat >= 2 || plan.spentMs >= 20 * min;
  }
  return plan;
}

/** Iterations for the measured run, from the mean time of one iteration seen in warm-up. */
export function itersFor(perIterMs) {
  const want = Math.ceil(PLAN.targetMs / Math.max(perIterMs, 1e-6));
  const capped = Math.floor(PLAN.capMs / Math.max(perIterMs, 1e-6));
  return Math.max(3, Math.min(PLAN.maxIters, Math.max(PLAN.minIters, want), Math.max(capped, 3)));
}

/**
 * Warm-up in doubling batches (`batch(n)` runs n rounds) under warmUpPlan:
 * the time per round of the last batch (perMs), the iterations for the
 * measured run that it gives, and the warm-up's length (warmupMs).
 */
export async function warmUp(batch, first) {
  const plan = warmUpPlan(first);
  for (let n = 1; ; n *= 2) {
    const t0 = performance.now();
    await batch(n);
    const dt = performance.now() - t0;
    if (plan.over(dt, n)) return { perMs: dt / n, iters: itersFor(dt / n), warmupMs: round3(plan.spentMs) };
  }
}

/** Sizes from FMI_BENCH_SIZES (comma-separated bytes) or the defaults. */
export function sizesFrom(defaults) {
  const s = process.env.FMI_BENCH_SIZES;
  if (!s) return defaults;
  return s.split(',').map((x) => parseSize(x.trim())).filter((n) => n > 0);
}

export function parseSize(s) {
  const m = /^(\d+)\s*(k|kib|m|mib)?$/i.exec(s);
  if (!m) throw new Error(`FMI_BENCH_SIZES: cannot parse ${JSON.stringify(s)}`);
  const unit = (m[2] ?? '').toLowerCase();
  return Number(m[1]) * (unit.startsWith('k') ? KiB : unit.startsWith('m') ? MiB : 1);
}

/** Percentile (nearest rank) of the first n entries of a Float64Array. */
export function percentile(sorted, n, p) {
  if (n === 0) return NaN;
  const i = Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1));
  return sorted[i];
}

/** p50/p99 in µs from per-iteration samples in ms, each multiplied by `scale` (0.5 for round trip/2). */
export function summarize(samplesMs, n, scale = 1) {
  const s = Float64Array.from(samplesMs.subarray(0, n)).sort();
  return {
    p50_us: round3(percentile(s, n, 50) * 1000 * scale),
    p99_us: round3(percentile(s, n, 99) * 1000 * scale),
  };
}

/** MB/s (10^6 bytes per second) of moving `bytes` in `us` microseconds. */
export function mbPerS(bytes, us) {
  return round3(bytes / us);
}

export function round3(x) {
  return Math.round(x * 1000) / 1000;
}

/** One result line on stdout, in the order the README documents. */
export function emit(r) {
  const line = {
    bench: r.bench,
    impl: r.impl,
    channel: r.channel,
    ranks: r.ranks,
    bytes: r.bytes,
    iters: r.iters,
    p50_us: r.p50_us,
    p99_us: r.p99_us,
    mb_s: r.mb_s,
  };
  if (r.variant !== undefined) line.variant = r.variant;
  if (r.alloc !== undefined) line.alloc = r.alloc;
  if (r.warmup_ms !== undefined) line.warmup_ms = r.warmup_ms;
  process.stdout.write(JSON.stringify(line) + '\n');
}

export function isOn(v) {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function fmtBytes(n) {
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

export function loadLine() {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

/** Fills a buffer with a recognisable pattern so a wrong echo is caught. */
export function fillPattern(u8, seed) {
  for (let i = 0; i < u8.length; i++) u8[i] = (i * 31 + seed) & 0xff;
}

/** Calls `fn` for each line a child writes to `stream`; resolves once the last one was handled. */
export function eachLine(stream, fn) {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on('line', fn);
  return new Promise((resolve) => rl.on('close', resolve));
}

/**
 * Nanoseconds per call of a synchronous `fn`, best of 5 batches: the batch
 * grows until it takes a fifth of minMs. The best batch is the one least
 * disturbed by other work on a small shared VM.
 */
export function nsPerCall(fn, minMs, warmup = 5) {
  for (let i = 0; i < warmup; i++) fn();
  const target = (minMs / 5) * 1e6;
  let batch = 1;
  let ns;
  for (;;) {
    ns = batchNs(fn, batch);
    if (ns >= target) break;
    batch *= ns < target / 10 ? 10 : 2;
  }
  let best = ns / batch;
  for (let r = 0; r < 4; r++) best = Math.min(best, batchNs(fn, batch) / batch);
  return best;
}

function batchNs(fn, batch) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < batch; i++) fn();
  return Number(process.hrtime.bigint() - t0);
}

/** Runs `url` (this script) in a worker thread with `data`; resolves to the first message it posts. */
export function workerResult(url, data) {
  const w = new Worker(url, { workerData: data });
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}
