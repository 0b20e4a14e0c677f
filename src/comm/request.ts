import { ANY_SOURCE, ANY_TAG } from '../channels/channel.js';
import { FmiError } from '../errors.js';

/**
 * What a receive or probe learned of a message (mpi4py's Status): the
 * source rank, the tag, and the count — elements for a TypedArray, bytes for
 * anything else. Pass one to `recv`, `irecv` or `probe` to have it filled.
 */
export class Status {
  source = ANY_SOURCE;
  tag = ANY_TAG;
  /** Elements for a TypedArray, bytes otherwise. */
  count = 0;
  /** Payload bytes on the wire. */
  bytes = 0;
  /** True when the request was cancelled before it completed. */
  cancelled = false;
}

/**
 * A non-blocking operation in flight (isend, irecv). `wait()` resolves to its
 * value (the received message for irecv); `test()` never blocks.
 */
export class Request<T = unknown> {
  readonly status = new Status();
  #state: 'pending' | 'done' | 'failed' = 'pending';
  #value: T | undefined;
  #error: unknown;
  readonly #promise: Promise<T>;
  readonly #cancel: (() => void) | undefined;

  /** @internal Made by the communicator. */
  constructor(start: (status: Status) => Promise<T>, cancel?: () => void) {
    this.#cancel = cancel;
    this.#promise = start(this.status).then(
      (v) => {
        this.#state = 'done';
        this.#value = v;
        return v;
      },
      (e: unknown) => {
        this.#state = 'failed';
        this.#error = e;
        if ((e as FmiError)?.code === 'FMI_ABORTED') this.status.cancelled = true;
        throw e;
      },
    );
    // A request nobody waits on must not crash the process when it fails.
    this.#promise.catch(() => {});
  }

  /** Resolves to the operation's value, or rejects with its error. */
  wait(): Promise<T> {
    return this.#promise;
  }

  /** True once complete; never blocks. Throws the operation's error if it failed. */
  test(): boolean {
    if (this.#state === 'failed') throw this.#error;
    return this.#state === 'done';
  }

  /** The value, once `test()` is true. */
  get value(): T | undefined {
    return this.#value;
  }

  get done(): boolean {
    return this.#state !== 'pending';
  }

  /** Cancels a pending receive (MPI_Cancel): `wait()` rejects with FMI_ABORTED, `status.cancelled` is set. */
  cancel(): void {
    if (this.#state === 'pending') this.#cancel?.();
  }
}

/** Waits for every request; resolves to their values in order (rejects on the first failure). */
export function waitAll<T>(requests: readonly Request<T>[]): Promise<T[]> {
  return Promise.all(requests.map((r) => r.wait()));
}

/** Waits for the first request to complete; resolves to its index and value. */
export function waitAny<T>(requests: readonly Request<T>[]): Promise<{ index: number; value: T }> {
  if (requests.length === 0) return Promise.reject(new FmiError('MPI_ERR_ARG', 'waitAny needs at least one request'));
  const done = requests.findIndex((r) => r.done);
  if (done >= 0) return requests[done]!.wait().then((value) => ({ index: done, value }));
  return Promise.race(requests.map((r, index) => r.wait().then((value) => ({ index, value }))));
}

/** True when every request is complete; never blocks. Throws the first failure. */
export function testAll(requests: readonly Request[]): boolean {
  let all = true;
  for (const r of requests) if (!r.test()) all = false;
  return all;
}
