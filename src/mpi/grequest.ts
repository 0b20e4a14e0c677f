import { ANY_SOURCE, ANY_TAG, Err, Status } from './abi.js';
import { MpiError } from './errors.js';
import { MpiRequest, type Completion } from './requests.js';
import type { Impl } from './runtime.js';

// Generalized requests (MPI 3.1 §12.2): the program's own operation, done
// when it calls MPI_Grequest_complete. Completing it (MPI_Wait/Test...)
// calls query_fn for the status, then free_fn; MPI_Cancel calls cancel_fn.
// One freed by MPI_Request_free gets free_fn only (no query_fn), in
// MPI_Request_free or MPI_Grequest_complete, whichever comes last; until
// then its handle stays taken, so MPI_Grequest_complete still finds it.
// fmi runs a program on one thread, so nothing can complete such a request
// while the program waits on it: MPI_Wait on one not yet completed fails at
// once (MPI_ERR_REQUEST) instead of hanging.

interface Pending {
  complete: () => void;
  /** MPI_Request_free came first: MPI_Grequest_complete calls free_fn and lets the handle go. */
  freed: boolean;
  /** Calls free_fn; its error code (not MPI_SUCCESS) is thrown with its class. */
  free: () => void;
}

const pending = new WeakMap<MpiRequest, Pending>();

export const GREQUEST_IMPLS: Record<string, Impl> = {
  MPI_Grequest_start(rt, queryFn, freeFn, cancelFn, extra, reqPtr) {
    const r = new MpiRequest(rt.currentComm);
    let done!: () => void;
    const completed = new Promise<void>((resolve) => (done = resolve));
    const run = async (): Promise<Completion> => {
      await completed;
      const c: Completion = { source: ANY_SOURCE, tag: ANY_TAG, bytes: 0 };
      c.finish = () => {
        const host = rt.mem.host;
        const st = host.malloc(Status.SIZE);
        try {
          rt.setStatus(st, ANY_SOURCE, ANY_TAG, 0);
          const rc = queryFn === 0 ? 0 : host.call(queryFn, extra, st);
          if (rc !== 0) throw new MpiError(rc, `the query function of a generalized request failed with ${rc}`);
          c.source = rt.mem.i32(st + Status.SOURCE);
          c.tag = rt.mem.i32(st + Status.TAG);
          c.bytes = rt.mem.i32(st + Status.COUNT);
          c.cancelled = rt.mem.i32(st + Status.CANCELLED) !== 0;
        } finally {
          host.free(st);
        }
        callFree();
      };
      return c;
    };
    const callFree = () => {
      const rc = freeFn === 0 ? 0 : rt.mem.host.call(freeFn, extra);
      if (rc !== 0) throw new MpiError(rc, `the free function of a generalized request failed with ${rc}`);
    };
    r.needsComplete = true;
    r.start(run, () => {
      if (cancelFn !== 0) {
        const rc = rt.mem.host.call(cancelFn, extra, r.needsComplete ? 0 : 1);
        if (rc !== 0) throw new MpiError(rc, `the cancel function of a generalized request failed with ${rc}`);
      }
    });
    const state: Pending = {
      complete: () => {
        r.needsComplete = false;
        done();
      },
      freed: false,
      free: callFree,
    };
    pending.set(r, state);
    r.onFree = () => {
      if (pending.has(r)) {
        state.freed = true;
        return true;
      }
      callFree();
      return false;
    };
    rt.mem.setI32(reqPtr, rt.requests.add(r));
    return 0;
  },

  MPI_Grequest_complete(rt, h) {
    const r = rt.requests.get(h);
    const state = r && pending.get(r);
    if (!state) throw new MpiError(Err.REQUEST, `0x${(h >>> 0).toString(16)} is not a generalized request (MPI_Grequest_start) not completed yet`);
    pending.delete(r);
    if (!state.freed) {
      state.complete();
      return 0;
    }
    rt.dropRequest(h);
    state.free();
    return 0;
  },
};
