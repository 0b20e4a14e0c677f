/**
 * When calibrate may stop warming a pattern up and start timing it: the
 * rule the model check's benchmark measures by (bench/lib/common.mjs
 * warmUpPlan, FMI_BENCH_WARMUP=steady), so that both time the same warm
 * code. Batches double; a batch of at least STEADY_BATCH_MS counts, and the
 * warm-up ends once two such batches in a row ran no 10 % faster per call
 * than the best before them, after at least `minMs` and `minCalls`; or at
 * `capMs` whatever the calls did (calibrate's time stays bounded).
 *
 * Why: V8 optimizes fmi's per-call functions only after 1,000-3,000 calls.
 * In one job of 4 ranks (2 vCPUs, load 5-7) an 8-byte allreduce took 948,
 * 792, 428, 353 µs over its first four 250 calls and 210-230 µs from 1,250
 * calls on; calibrate's old warm-up (1,000 rounds, then 60 ms per size) timed
 * it near that knee, and its collective_overhead came out up to 2.3x the
 * check's measured small allreduce.
 */
export interface SteadyRule {
  /** Least warm-up time, ms. */
  minMs: number;
  /** Least warm-up calls. */
  minCalls: number;
  /** Stop here even if not steady, ms. */
  capMs: number;
}

/** A batch shorter than this says little about the time per call (the benchmark's STEADY_BATCH_MS). */
export const STEADY_BATCH_MS = 20;
/** A batch this much faster per call than the best before restarts the count of flat batches. */
const FASTER = 0.9;
/** Flat batches in a row that end the warm-up. */
const FLAT_BATCHES = 2;

/** Returns `over(dt, n)`: fed each batch's ms and calls, says whether to stop warming up. */
export function steadyWarmUp(rule: SteadyRule): (dt: number, n: number) => boolean {
  let spent = 0;
  let calls = 0;
  let best = Infinity;
  let flat = 0;
  return (dt, n) => {
    spent += dt;
    calls += n;
    if (dt >= STEADY_BATCH_MS) {
      flat = dt / n < best * FASTER ? 0 : flat + 1;
      best = Math.min(best, dt / n);
    }
    if (spent >= rule.capMs) return true;
    return spent >= rule.minMs && n >= 2 && calls >= rule.minCalls && flat >= FLAT_BATCHES;
  };
}
