// Allreduce (Op.SUM over a Float64Array) on every rank, over fmi's direct channel.
//   node dist/cli/main.js run -n 4 --no-prefix bench/allreduce.mjs
//
// Calls follow each other back to back (no barrier in between, as in the OSU
// benchmarks). Every rank times every call; a sample is the slowest rank's
// time for that call (per-iteration max over ranks), so p50/p99 describe when
// the whole job had its result. MB/s = vector bytes / p50 ("algorithm
// bandwidth": the bytes each rank contributes, not the bytes on the wire).
// stdout (rank 0): one JSON line per size, see bench/README.md.
//
// Environment: FMI_BENCH_QUICK=1, FMI_BENCH_MS, FMI_BENCH_SIZES (bytes,
// multiples of 8, e.g. "1k,1m,16m").
//   FMI_BENCH_ALGO=auto|ring|rabenseifner|recursive-doubling   allreduce's `algorithm`
//     option (default auto: fmi picks; the variant then stays "f64,sum")
//   FMI_BENCH_INTO=1   pass `{ into }`: the result goes into one buffer that
//     every call reuses instead of a fresh array (variant gets ",into")
//   FMI_BENCH_SHARED=1   data and `into` from sharedArray() (thread ranks: in
//     the node arena, reduced in place; variant gets ",shared")
// bench/run.mjs sets both for FMI_BENCH=allreduce-algos.

import * as fmi from 'fmi';
import { ALLREDUCE_SIZES, emit, isOn, itersFor, mbPerS, sizesFrom, summarize, warmUpPlan } from './lib/common.mjs';

const ALGO = process.env.FMI_BENCH_ALGO || 'auto';
if (!['auto', 'ring', 'rabenseifner', 'recursive-doubling'].includes(ALGO)) throw new Error(`FMI_BENCH_ALGO: ${ALGO} is not auto, ring, rabenseifner or recursive-doubling`);
const INTO = isOn(process.env.FMI_BENCH_INTO);
const SHARED = isOn(process.env.FMI_BENCH_SHARED);
const variant = `f64,sum${ALGO === 'auto' ? '' : `,${ALGO}`}${INTO ? ',into' : ''}${SHARED ? ',shared' : ''}`;
const { init, Op } = fmi;
// An earlier build (FMI_BENCH_BASE) has no sharedArray: plain arrays there.
const array = (len) => (SHARED && fmi.sharedArray ? fmi.sharedArray(Float64Array, len) : new Float64Array(len));

const comm = await init();
const { rank, size } = comm;
const expected = (size * (size + 1)) / 2;

const sizes = sizesFrom(ALLREDUCE_SIZES);
for (const bytes of sizes) {
  const len = Math.max(1, Math.floor(bytes / 8));
  const data = array(len).fill(rank + 1);
  let out;
  const opts = { ...(ALGO === 'auto' ? {} : { algorithm: ALGO }), ...(INTO ? { into: array(len) } : {}) };
  const cmd = new Float64Array(2); // [iterations, measured?]
  let samples;
  let iters = 0;
  let n = 1;
  const warm = warmUpPlan(bytes === sizes[0]);
  for (;;) {
    if (rank === 0) {
      cmd[0] = n;
      cmd[1] = samples ? 1 : 0;
    }
    const c = await comm.bcast(rank === 0 ? cmd : undefined, 0);
    const count = c[0];
    const measured = c[1] === 1;
    if (measured && !samples) samples = new Float64Array(count);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const s = performance.now();
      out = await comm.allreduce(data, Op.SUM, opts);
      if (measured) samples[i] = performance.now() - s;
    }
    const dt = performance.now() - t0;
    if (measured) {
      iters = count;
      break;
    }
    // Rank 0 plans the next batch: double during warm-up, then the measured run.
    if (rank === 0) {
      if (warm.over(dt, n)) {
        n = itersFor(dt / n);
        samples = new Float64Array(n);
      } else n *= 2;
    }
  }
  if ((INTO && out !== opts.into) || out.length !== len || out[0] !== expected || out[len - 1] !== expected) {
    throw new Error(`allreduce: rank ${rank} got ${out[0]}..${out[len - 1]} (length ${out.length}), expected ${expected} x ${len}`);
  }
  const slowest = await comm.reduce(samples, Op.MAX, 0);
  if (rank === 0) {
    const s = summarize(slowest, iters);
    emit({ bench: 'allreduce', impl: 'fmi', channel: 'direct', ranks: size, bytes: len * 8, iters, ...s, mb_s: mbPerS(len * 8, s.p50_us), variant, warmup_ms: Math.round(warm.spentMs) });
  }
}
await comm.close();
