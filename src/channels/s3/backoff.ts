import { FmiError } from '../../errors.js';

/**
 * How a waiting rank polls S3: after a miss it waits `initialMs`, then each
 * wait is `factor` times longer up to `maxMs`, every wait shifted at random
 * by up to ±`jitter` (so ranks that started together do not poll in step).
 * Anything arriving resets it to `initialMs`.
 */
export interface PollPolicy {
  /** @default 5 */
  initialMs: number;
  /** @default 200 */
  maxMs: number;
  /** @default 1.5 */
  factor: number;
  /** Fraction of each wait, 0 to <1. @default 0.2 */
  jitter: number;
}

export const DEFAULT_POLL: PollPolicy = { initialMs: 5, maxMs: 200, factor: 1.5, jitter: 0.2 };

export function pollPolicy(p: Partial<PollPolicy> | undefined): PollPolicy {
  const o = { ...DEFAULT_POLL, ...p };
  const ok = o.initialMs > 0 && o.maxMs >= o.initialMs && o.factor >= 1 && o.jitter >= 0 && o.jitter < 1 && Number.isFinite(o.maxMs);
  if (!ok) throw new FmiError('FMI_CONFIG', `poll policy ${JSON.stringify(o)}: needs 0 < initialMs <= maxMs < Infinity, factor >= 1, 0 <= jitter < 1`, { channel: 's3' });
  return o;
}

export class Backoff {
  readonly #p: PollPolicy;
  #base: number;

  constructor(p: PollPolicy) {
    this.#p = p;
    this.#base = p.initialMs;
  }

  /** The next wait in ms; grows the one after it. */
  next(): number {
    const base = this.#base;
    this.#base = Math.min(this.#p.maxMs, base * this.#p.factor);
    return base * (1 + this.#p.jitter * (2 * Math.random() - 1));
  }

  reset(): void {
    this.#base = this.#p.initialMs;
  }
}

/**
 * Waits `ms`; ends early (resolving) when `wake` is called through the
 * returned handle, and rejects with the reason when `signal` aborts.
 */
export function sleep(ms: number, signal: AbortSignal): { done: Promise<void>; wake(): void } {
  let wake = () => {};
  const done = new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      finish();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      finish();
      resolve();
    }, ms);
    wake = () => {
      finish();
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return { done, wake: () => wake() };
}
