import { ANY_SOURCE, ANY_TAG, Err, STATUS_IGNORE, Status, UNDEFINED } from './abi.js';
import { MpiError, toMpiError } from './errors.js';
import type { Impl, MpiRuntime } from './runtime.js';

/** What a finished operation reports; `finish` writes received data into the program's memory. */
export interface Completion {
  source: number;
  tag: number;
  bytes: number;
  cancelled?: boolean;
  finish?: () => void;
}

/**
 * An MPI_Request: an operation running in JS while the program goes on.
 * Its result is written into the program's memory only when the program
 * completes it (MPI_Wait/Test...), with views made at that moment, so memory
 * growth in between does no harm.
 */
export class MpiRequest {
  readonly comm: number;
  /** Persistent requests (MPI_Send_init, MPI_Recv_init) start this on MPI_Start. */
  readonly persistent: (() => Promise<Completion>) | undefined;
  active = false;
  freed = false;
  promise: Promise<void> = Promise.resolve();
  cancel: (() => void) | undefined;
  /** A generalized request MPI_Grequest_complete has not completed yet: waiting on it alone would never end. */
  needsComplete = false;
  /** Called by MPI_Request_free; true: the runtime keeps the handle (a generalized request not completed yet, src/mpi/grequest.ts). */
  onFree: ((h: number) => boolean) | undefined;
  #settled: { ok: true; value: Completion } | { ok: false; error: unknown } | undefined;

  constructor(comm: number, persistent?: () => Promise<Completion>) {
    this.comm = comm;
    this.persistent = persistent;
  }

  start(run: () => Promise<Completion>, cancel?: () => void): this {
    this.active = true;
    this.#settled = undefined;
    this.cancel = cancel;
    this.promise = run().then(
      (value) => {
        this.#settled = { ok: true, value };
      },
      (error: unknown) => {
        this.#settled = { ok: false, error };
      },
    );
    return this;
  }

  get done(): boolean {
    return !this.active || this.#settled !== undefined;
  }

  /** The settled result without completing the request (MPI_Request_get_status). */
  peek(): Completion | undefined {
    const s = this.#settled;
    return s?.ok ? s.value : undefined;
  }

  /** The settled result; only when done. */
  take(): Completion {
    const s = this.#settled;
    this.active = false;
    this.#settled = undefined;
    if (!s) return { source: ANY_SOURCE, tag: ANY_TAG, bytes: 0 };
    if (!s.ok) throw s.error;
    return s.value;
  }
}

/** Starts a request and stores its handle at reqPtr. */
export function startRequest(rt: MpiRuntime, reqPtr: number, comm: number, run: () => Promise<Completion>, cancel?: () => void): number {
  const r = new MpiRequest(comm).start(run, cancel);
  rt.mem.setI32(reqPtr, rt.requests.add(r));
  return 0;
}

/** A request that is complete at once (e.g. with MPI_PROC_NULL). */
export const nullCompletion = (source: number): Completion => ({ source, tag: ANY_TAG, bytes: 0 });

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Completes the request in slot i of the array at arrPtr (must be done):
 * writes its data and status, frees it unless persistent. Returns the error
 * class for MPI_ERROR; throws when `raise`.
 */
function complete(rt: MpiRuntime, arrPtr: number, i: number, statusPtr: number, raise: boolean): number {
  const h = rt.mem.i32(arrPtr + 4 * i);
  const r = rt.requests.get(h);
  if (!r) {
    if (h !== 0) throw new MpiError(Err.REQUEST, `invalid request handle 0x${(h >>> 0).toString(16)}`);
    rt.setStatus(statusPtr, ANY_SOURCE, ANY_TAG, 0);
    return 0;
  }
  rt.errorsOn(r.comm);
  if (!r.persistent) rt.mem.setI32(arrPtr + 4 * i, 0);
  let c: Completion;
  try {
    c = r.take();
    c.finish?.();
  } catch (err) {
    if (raise) throw err;
    return toMpiError(err).code;
  } finally {
    // After finish: it may use a datatype the program freed meanwhile, which this releases.
    if (!r.persistent) rt.dropRequest(h);
  }
  rt.setStatus(statusPtr, c.source, c.tag, c.bytes, c.cancelled);
  return 0;
}

/** Fails when every request of `pending` waits for MPI_Grequest_complete, which nothing can call while the program waits. */
function waitable(pending: MpiRequest[]): void {
  if (pending.length > 0 && pending.every((r) => r.needsComplete)) {
    throw new MpiError(Err.REQUEST, 'waiting on a generalized request that MPI_Grequest_complete has not completed: nothing can complete it while the program waits (fmi programs run on one thread)');
  }
}

function req(rt: MpiRuntime, h: number): MpiRequest | undefined {
  const r = rt.requests.get(h);
  if (!r && h !== 0) throw new MpiError(Err.REQUEST, `invalid request handle 0x${(h >>> 0).toString(16)}`);
  return r?.active ? r : undefined;
}

const statusAt = (statuses: number, i: number) => (statuses === STATUS_IGNORE || statuses === 0 ? STATUS_IGNORE : statuses + i * Status.SIZE);

/** Completes every done request of the array; with errors, MPI_ERR_IN_STATUS and each status's MPI_ERROR. */
function completeAll(rt: MpiRuntime, n: number, arr: number, statuses: number, only?: (i: number) => boolean): void {
  let first: unknown;
  const errors: number[] = [];
  for (let i = 0; i < n; i++) {
    if (only && !only(i)) continue;
    const st = statusAt(statuses, i);
    let code = 0;
    try {
      code = complete(rt, arr, i, st, true);
    } catch (err) {
      first ??= err;
      code = toMpiError(err).code;
      rt.setStatus(st, ANY_SOURCE, ANY_TAG, 0, false, code);
    }
    errors.push(code);
  }
  if (first !== undefined) {
    if (statuses === STATUS_IGNORE) throw first;
    throw new MpiError(Err.IN_STATUS, `a request failed: ${toMpiError(first).message}`, { cause: first });
  }
}

/**
 * Waitany/Testany: completes the first finished request of the n at arr and
 * reports its index, or MPI_UNDEFINED when none is active; undefined while
 * active ones are all still running.
 */
function pickAny(rt: MpiRuntime, n: number, arr: number, indexPtr: number, status: number, found?: () => void): number | undefined {
  let active = false;
  for (let i = 0; i < n; i++) {
    const r = req(rt, rt.mem.i32(arr + 4 * i));
    if (!r) continue;
    active = true;
    if (r.done) {
      rt.mem.setI32(indexPtr, i);
      found?.();
      return complete(rt, arr, i, status, true);
    }
  }
  if (active) return undefined;
  found?.();
  rt.mem.setI32(indexPtr, UNDEFINED);
  rt.setStatus(status, ANY_SOURCE, ANY_TAG, 0);
  return 0;
}

/**
 * Waitsome/Testsome: completes every finished request of the n at arr and
 * reports them; true when that ends the call (some were done, none was
 * active, or `final`, which reports an empty set).
 */
function harvestSome(rt: MpiRuntime, n: number, arr: number, outcount: number, indices: number, statuses: number, final: boolean): boolean {
  const done: number[] = [];
  let active = false;
  for (let i = 0; i < n; i++) {
    const r = req(rt, rt.mem.i32(arr + 4 * i));
    if (!r) continue;
    active = true;
    if (r.done) done.push(i);
  }
  if (!active) {
    rt.mem.setI32(outcount, UNDEFINED);
    return true;
  }
  if (done.length === 0 && !final) return false;
  rt.mem.setI32(outcount, done.length);
  rt.mem.setI32s(indices, done);
  done.forEach((i, k) => complete(rt, arr, i, statusAt(statuses, k), true));
  return true;
}

export const REQUEST_IMPLS: Record<string, Impl> = {
  MPI_Wait(rt, reqPtr, status) {
    const r = req(rt, rt.mem.i32(reqPtr));
    if (!r || r.done) return complete(rt, reqPtr, 0, status, true);
    rt.errorsOn(r.comm);
    waitable([r]);
    return r.promise.then(() => complete(rt, reqPtr, 0, status, true));
  },

  MPI_Waitall(rt, n, arr, statuses) {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const r = req(rt, rt.mem.i32(arr + 4 * i));
      if (r && !r.done) {
        waitable([r]);
        pending.push(r.promise);
      }
    }
    if (pending.length === 0) return completeAll(rt, n, arr, statuses), 0;
    return Promise.all(pending).then(() => (completeAll(rt, n, arr, statuses), 0));
  },

  MPI_Waitany(rt, n, arr, indexPtr, status) {
    const pick = () => pickAny(rt, n, arr, indexPtr, status);
    const now = pick();
    if (now !== undefined) return now;
    const active: MpiRequest[] = [];
    for (let i = 0; i < n; i++) {
      const r = req(rt, rt.mem.i32(arr + 4 * i));
      if (r) active.push(r);
    }
    waitable(active);
    const pending = active.map((r) => r.promise);
    return Promise.race(pending).then(() => pick()!);
  },

  MPI_Waitsome(rt, n, arr, outcount, indices, statuses) {
    if (harvestSome(rt, n, arr, outcount, indices, statuses, false)) return 0;
    const active: MpiRequest[] = [];
    for (let i = 0; i < n; i++) {
      const r = req(rt, rt.mem.i32(arr + 4 * i));
      if (r) active.push(r);
    }
    waitable(active);
    const pending = active.map((r) => r.promise);
    return Promise.race(pending).then(() => (harvestSome(rt, n, arr, outcount, indices, statuses, true), 0));
  },

  // The Test family never blocks, but when nothing is done yet it lets the
  // event loop run once: a program polling MPI_Test in a loop would
  // otherwise starve the very I/O it waits for.
  MPI_Test(rt, reqPtr, flag, status) {
    const check = (): number | undefined => {
      const r = req(rt, rt.mem.i32(reqPtr));
      if (r && !r.done) return undefined;
      rt.mem.setI32(flag, 1);
      return complete(rt, reqPtr, 0, status, true);
    };
    const now = check();
    if (now !== undefined) return now;
    return tick().then(() => {
      const later = check();
      if (later !== undefined) return later;
      rt.mem.setI32(flag, 0);
      return 0;
    });
  },

  MPI_Testall(rt, n, arr, flag, statuses) {
    const check = (): boolean => {
      for (let i = 0; i < n; i++) {
        const r = req(rt, rt.mem.i32(arr + 4 * i));
        if (r && !r.done) return false;
      }
      rt.mem.setI32(flag, 1);
      completeAll(rt, n, arr, statuses);
      return true;
    };
    if (check()) return 0;
    return tick().then(() => {
      if (!check()) rt.mem.setI32(flag, 0);
      return 0;
    });
  },

  MPI_Testany(rt, n, arr, indexPtr, flag, status) {
    const check = () => pickAny(rt, n, arr, indexPtr, status, () => rt.mem.setI32(flag, 1));
    const now = check();
    if (now !== undefined) return now;
    return tick().then(() => {
      const later = check();
      if (later !== undefined) return later;
      rt.mem.setI32(indexPtr, UNDEFINED);
      rt.mem.setI32(flag, 0);
      return 0;
    });
  },

  MPI_Testsome(rt, n, arr, outcount, indices, statuses) {
    if (harvestSome(rt, n, arr, outcount, indices, statuses, false)) return 0;
    return tick().then(() => (harvestSome(rt, n, arr, outcount, indices, statuses, true), 0));
  },

  MPI_Request_get_status(rt, h, flag, status) {
    const check = (): boolean => {
      const r = req(rt, h);
      if (r && !r.done) return false;
      rt.mem.setI32(flag, 1);
      const c = r?.peek();
      if (c) rt.setStatus(status, c.source, c.tag, c.bytes, c.cancelled);
      else rt.setStatus(status, ANY_SOURCE, ANY_TAG, 0);
      return true;
    };
    if (check()) return 0;
    return tick().then(() => {
      if (!check()) rt.mem.setI32(flag, 0);
      return 0;
    });
  },

  MPI_Request_free(rt, reqPtr) {
    const h = rt.mem.i32(reqPtr);
    const r = rt.requests.get(h);
    if (!r) throw new MpiError(Err.REQUEST, 'MPI_Request_free needs an active request');
    r.freed = true;
    rt.mem.setI32(reqPtr, 0);
    if (r.onFree?.(h)) return 0;
    // The operation goes on; nobody will look at its outcome.
    rt.dropRequest(h);
    rt.mem.setI32(reqPtr, 0);
    return 0;
  },

  MPI_Cancel(rt, reqPtr) {
    const r = rt.requests.get(rt.mem.i32(reqPtr));
    if (!r) throw new MpiError(Err.REQUEST, 'MPI_Cancel needs a request');
    r.cancel?.();
    return 0;
  },

  MPI_Test_cancelled(rt, status, flag) {
    rt.mem.setI32(flag, rt.mem.i32(status + Status.CANCELLED) ? 1 : 0);
    return 0;
  },

  MPI_Start(rt, reqPtr) {
    const r = rt.requests.get(rt.mem.i32(reqPtr));
    if (!r?.persistent) throw new MpiError(Err.REQUEST, 'MPI_Start needs a persistent request (MPI_Send_init, MPI_Recv_init)');
    if (r.active) throw new MpiError(Err.REQUEST, 'MPI_Start: the request is already active');
    rt.errorsOn(r.comm);
    r.start(r.persistent);
    return 0;
  },

  MPI_Startall(rt, n, arr) {
    for (let i = 0; i < n; i++) REQUEST_IMPLS.MPI_Start!(rt, arr + 4 * i);
    return 0;
  },
};
