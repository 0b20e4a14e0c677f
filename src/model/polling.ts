import type { Backoff } from './types.js';

/** The S3 channel's polling backoff: first poll at once, then 5 ms, 7.5 ms, ... at most 200 ms. */
export const S3_BACKOFF: Readonly<Backoff> = Object.freeze({ initialMs: 5, factor: 1.5, maxMs: 200 });

export interface PollWait {
  /** Expected polls that find nothing (each a billed GET). */
  polls: number;
  /** Expected delay between the object appearing and the poll that finds it, seconds. */
  lag_s: number;
}

/**
 * A reader that starts polling `wait` seconds before the object appears.
 * Poll k starts at s_k and takes `requestS` (a GET that finds nothing); the
 * next poll starts d_k = min(initial * factor^k, max) after this one started,
 * or when it ends if that is later (the channel sleeps what is left of d_k,
 * src/channels/s3/s3-channel.ts and receiver.ts), so the poll period is
 * p_k = max(requestS, d_k). With the backoff's jitter the reader's phase is taken
 * as uniform, which gives, for the object appearing at T in [s_k, s_k + p_k):
 *
 *   polls = k + (T - s_k) / p_k    (polls started before T; continuous in T)
 *   lag   = p_k / 2                (half the period in which it appears)
 *
 * The poll that finds the object is the read itself and is not counted.
 */
export function pollWait(wait: number, requestS: number, b: Backoff = S3_BACKOFF): PollWait {
  if (!(wait > 0)) return { polls: 0, lag_s: 0 };
  const maxS = b.maxMs / 1000;
  let start = 0;
  let sleep = b.initialMs / 1000;
  for (let k = 0; ; k++) {
    const capped = sleep >= maxS || sleep <= 0 || b.factor <= 1;
    const period = Math.max(requestS, Math.min(sleep, maxS));
    if (capped) {
      // Steady state from here: whole periods, no more growth.
      if (!(period > 0)) return { polls: 0, lag_s: 0 };
      return { polls: k + (wait - start) / period, lag_s: period / 2 };
    }
    if (wait < start + period) return { polls: k + (wait - start) / period, lag_s: period / 2 };
    start += period;
    sleep *= b.factor;
  }
}
