import { AbortError, FmiError, TimeoutError, type FmiErrorFields } from '../errors.js';

/** Options every operation accepts. */
export interface OpOptions {
  /** Abort the operation; it rejects with an `AbortError` (code `FMI_ABORTED`). */
  signal?: AbortSignal;
  /** Reject with a `TimeoutError` (code `FMI_TIMEOUT`) after this many ms (>= 0; Infinity: never). @default the communicator's `timeoutMs` (none) */
  timeoutMs?: number;
}

/**
 * Checks an operation's `timeoutMs` and `signal` (and a communicator's default
 * timeout): NaN, a string or a negative number must not quietly mean "no
 * timeout". Infinity does mean no timeout.
 */
export function checkOpOptions(opts: OpOptions | undefined, fields: FmiErrorFields, what = 'timeoutMs'): void {
  const t: unknown = opts?.timeoutMs;
  if (t !== undefined && (typeof t !== 'number' || Number.isNaN(t) || t < 0)) {
    throw new FmiError('MPI_ERR_ARG', `${what} must be a number of milliseconds >= 0 (or Infinity), got ${typeof t === 'string' ? JSON.stringify(t) : String(t)}`, fields);
  }
  const s: unknown = opts?.signal;
  if (s !== undefined && !(s instanceof AbortSignal)) throw new FmiError('MPI_ERR_ARG', `signal must be an AbortSignal, got ${typeof s}`, fields);
}

/**
 * One operation's cancellation: the caller's signal and its timeout folded into
 * one signal. The timeout error is made here, when the operation is called, so
 * its stack shows the caller rather than a timer.
 */
export class Deadline {
  /** The deadline of every operation without signal or timeout: no signal, nothing to dispose of. */
  static readonly NONE: Deadline = new Deadline(undefined, undefined, {});

  /**
   * An operation's deadline: `Deadline.NONE` when it has neither a signal nor
   * a finite timeout (the default, so nothing is set up per call), else a new
   * one. `fields` is called only then.
   */
  static of(opts: OpOptions | undefined, defaultTimeoutMs: number | undefined, fields: () => FmiErrorFields): Deadline {
    const none = (t: number | undefined) => t === undefined || t === Infinity;
    if (opts?.signal === undefined && none(opts?.timeoutMs) && none(defaultTimeoutMs)) return Deadline.NONE;
    return new Deadline(opts, defaultTimeoutMs, fields());
  }

  /**
   * A deadline its caller may also end early with `withdraw` (sendrecv's
   * receive, when its send fails): one controller, where folding a signal of
   * the caller's own in with `AbortSignal.any` costs ~20 us a call.
   */
  static withdrawable(opts: OpOptions | undefined, defaultTimeoutMs: number | undefined, fields: FmiErrorFields): Deadline {
    return new Deadline(opts, defaultTimeoutMs, fields, true);
  }

  readonly signal: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #outer: AbortSignal | undefined;
  #onOuter: (() => void) | undefined;

  constructor(opts: OpOptions | undefined, defaultTimeoutMs: number | undefined, fields: FmiErrorFields, withdrawable = false) {
    checkOpOptions(opts, fields);
    checkOpOptions({ timeoutMs: defaultTimeoutMs }, fields, 'the default timeoutMs');
    const outer = opts?.signal;
    const timeoutMs = opts?.timeoutMs ?? defaultTimeoutMs;
    if (outer?.aborted) throw abortReason(outer, fields);
    if (!withdrawable && !outer && (timeoutMs === undefined || !Number.isFinite(timeoutMs))) return;
    const controller = (this.#controller = new AbortController());
    this.signal = controller.signal;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      const err = new TimeoutError(`no completion within ${timeoutMs} ms`, fields);
      // Not unref'd: a pending operation with a deadline keeps the process up
      // until it fails with FMI_TIMEOUT (else a rank waiting on nothing else
      // would exit 13 with the await unsettled). dispose() clears it.
      this.#timer = setTimeout(() => controller.abort(err), Math.max(0, timeoutMs));
    }
    if (outer) {
      this.#outer = outer;
      this.#onOuter = () => controller.abort(abortReason(outer, fields));
      outer.addEventListener('abort', this.#onOuter, { once: true });
    }
  }

  /** Throws the abort reason if the operation was cancelled meanwhile. */
  check(): void {
    if (this.signal?.aborted) throw this.signal.reason;
  }

  /** Ends the operation with `reason` (a withdrawable deadline only; nothing once it has settled). */
  withdraw(reason: unknown): void {
    this.#controller?.abort(reason);
  }

  dispose(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#outer && this.#onOuter) this.#outer.removeEventListener('abort', this.#onOuter);
  }
}

function abortReason(signal: AbortSignal, fields: FmiErrorFields): FmiError {
  const r: unknown = signal.reason;
  if (r instanceof FmiError) return r;
  return new AbortError('operation aborted', { ...fields, cause: r });
}
