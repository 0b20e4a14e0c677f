import type { LinkFit } from './fit.js';
import { storeTraffic, type StoreLink } from './mediated.js';

/**
 * Redis's fan-in (fanin_overhead, fanin_bandwidth) from the allreduce
 * itself, timed back to back at each size as the model check and a job
 * call it: the allreduce's time less the model's release (rank 0 writes
 * the result, the others read it: storeTraffic's allreduce with a fan-in
 * of nothing), at least what the server must move ((n - 1)·m in and out,
 * (n - 1)·m / betaTotal). The line through those points is the one whose
 * largest error relative to the whole allreduce is least (minimaxLine),
 * since the allreduce's time is what it prices: quiet, the fan-in was
 * 0.2 ms at 1 KiB, 4 at 64 KiB and 24 at 1 MiB, which least squares on
 * the fan-in's own relative error (fitLink) priced at 0.65 of the 64 KiB
 * allreduce. The fan-in timed alone after a barrier (calibrate-rank's
 * `fanin`) took 6-11 ms at 1 MiB there: the back-to-back calls queue at
 * the one server thread (each moves about 10 MiB through it on 4 ranks),
 * which a fan-in after a barrier does not see. Undefined when no point is
 * left (every allreduce faster than its release).
 */
export function fitFanIn(allreduce: readonly { bytes: number; seconds: number }[], ranks: number, link: StoreLink): LinkFit | undefined {
  const nothing = { ...link, fanIn: { alpha: 0, beta: Infinity } };
  const points = allreduce
    .filter((s) => Number.isFinite(s.seconds) && s.seconds > 0 && s.bytes >= 0)
    .map((s) => {
      const release = storeTraffic('allreduce', s.bytes, ranks, nothing).time_s;
      const floor = ((ranks - 1) * s.bytes) / link.betaTotal;
      return { bytes: s.bytes, seconds: Math.max(s.seconds - release, floor), of: s.seconds };
    })
    .filter((p) => p.seconds > 0);
  if (points.length === 0) return undefined;
  const { alpha, slope, error } = minimaxLine(points);
  return { alpha, beta: slope > 0 ? 1 / slope : link.beta, maxRelError: error };
}

/**
 * The line `seconds = alpha + slope·bytes` (both >= 0) whose largest
 * |line - seconds| / of over the points is least. That error is convex in
 * (alpha, slope), and so is its least over alpha as a function of the slope:
 * ternary search over the slope, and inside it over alpha.
 */
export function minimaxLine(points: readonly { bytes: number; seconds: number; of: number }[]): { alpha: number; slope: number; error: number } {
  const err = (a: number, s: number) => Math.max(...points.map((p) => Math.abs(a + s * p.bytes - p.seconds) / p.of));
  const best = (lo: number, hi: number, f: (x: number) => number): number => {
    for (let i = 0; i < 100; i++) {
      const m1 = lo + (hi - lo) / 3;
      const m2 = hi - (hi - lo) / 3;
      if (f(m1) <= f(m2)) hi = m2;
      else lo = m1;
    }
    return (lo + hi) / 2;
  };
  const aMax = Math.max(...points.map((p) => p.seconds));
  const sMax = Math.max(0, ...points.filter((p) => p.bytes > 0).map((p) => p.seconds / p.bytes));
  const alphaFor = (s: number) => best(0, aMax, (a) => err(a, s));
  const slope = best(0, sMax, (s) => err(alphaFor(s), s));
  const alpha = alphaFor(slope);
  return { alpha, slope, error: err(alpha, slope) };
}
