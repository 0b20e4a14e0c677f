import { FmiError } from '../errors.js';
import type { LinkParams } from './params.js';

/** One measured point: `seconds` for a message (or request) of `bytes`. */
export interface TimePoint {
  bytes: number;
  seconds: number;
}

/** A fitted line `seconds = alpha + bytes / beta`, and how far the points are from it. */
export interface LinkFit extends LinkParams {
  /** Largest |fitted / measured - 1| over the points. */
  maxRelError: number;
}

/**
 * Fits `t = alpha + bytes / beta` to measured points by least squares on the
 * relative error (each point weighted by 1 / t^2). Plain least squares would
 * let the largest message decide everything and leave alpha at the mercy of
 * its noise; small messages are where alpha is measured, large ones where
 * beta is, and both must come out right.
 *
 * A negative intercept (noise at small sizes) is clamped to 0 and the slope
 * refitted through the origin. A slope that is not positive (the time does
 * not grow with size over the points given, or only one size) leaves beta
 * to the largest point alone: bytes / (t - alpha), or, when that is not
 * positive either, `fallbackBeta`.
 */
export function fitLink(points: readonly TimePoint[], fallbackBeta = Infinity): LinkFit {
  const ok = points.filter((p) => Number.isFinite(p.bytes) && p.bytes >= 0 && Number.isFinite(p.seconds) && p.seconds > 0);
  if (ok.length === 0) throw new FmiError('MPI_ERR_ARG', 'fitLink: no measured point (each needs bytes >= 0 and seconds > 0)', { op: 'calibrate' });
  // Weighted least squares of t = a + s * b with weights w = 1 / t^2.
  let sw = 0;
  let sb = 0;
  let st = 0;
  let sbb = 0;
  let sbt = 0;
  for (const { bytes: b, seconds: t } of ok) {
    const w = 1 / (t * t);
    sw += w;
    sb += w * b;
    st += w * t;
    sbb += w * b * b;
    sbt += w * b * t;
  }
  const det = sw * sbb - sb * sb;
  let slope = det > 0 ? (sw * sbt - sb * st) / det : 0;
  let alpha = det > 0 ? (st - slope * sb) / sw : st / sw;
  if (alpha < 0) {
    // Through the origin: minimise sum w (t - s b)^2.
    alpha = 0;
    slope = sbb > 0 ? sbt / sbb : 0;
  }
  let beta: number;
  if (slope > 0) beta = 1 / slope;
  else {
    const big = ok.reduce((a, p) => (p.bytes > a.bytes ? p : a));
    const rest = big.seconds - alpha;
    beta = big.bytes > 0 && rest > 0 ? big.bytes / rest : fallbackBeta;
  }
  const maxRelError = Math.max(...ok.map((p) => Math.abs((alpha + p.bytes / beta) / p.seconds - 1)));
  return { alpha, beta, maxRelError };
}

/** Median of a list of numbers (NaN for none). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The median of the medians of `rounds` equal consecutive batches of
 * `samples` (calibrate lays its samples out round after round): a burst of
 * load from other work that falls on one or two rounds of five moves the
 * pooled median, but not this. Fewer samples than rounds: their median.
 */
export function medianOfRounds(samples: ArrayLike<number>, rounds: number): number {
  const per = Math.floor(samples.length / rounds);
  if (per === 0) return median(Array.from(samples));
  const medians: number[] = [];
  for (let r = 0; r < rounds; r++) medians.push(median(Array.from({ length: per }, (_, k) => samples[r * per + k]!)));
  return median(medians);
}
