import { Status as FmiStatus, type Request as FmiRequest } from '../comm/request.js';
import { ANY_SOURCE as FMI_ANY_SOURCE } from '../channels/channel.js';
import { ANY_SOURCE, ANY_TAG, Err, MESSAGE_NO_PROC, PROC_NULL, Status, UNDEFINED } from './abi.js';
import { MpiError } from './errors.js';
import { MpiRequest, nullCompletion, startRequest, type Completion } from './requests.js';
import type { CommEntry, Impl, MpiRuntime } from './runtime.js';
import { elementsIn } from './datatypes.js';

const srcOf = (s: number) => (s === ANY_SOURCE ? FMI_ANY_SOURCE : s);

function checkSendTag(tag: number): void {
  if (tag < 0) throw new MpiError(Err.TAG, `tag ${tag} is not valid for a send (tags are 0 ... MPI_TAG_UB)`);
}

/**
 * The send half of every send mode. fmi sends eagerly, so standard, buffered
 * and ready sends complete once the data is handed over; a synchronous send
 * (`sync`) once the receiver has matched it.
 */
function send(rt: MpiRuntime, c: CommEntry, buf: number, count: number, th: number, dest: number, tag: number, copy: boolean, sync: boolean): Promise<void> | undefined {
  checkSendTag(tag);
  return sendData(c, rt.read(buf, count, th, copy), dest, tag, sync);
}

function sendData(c: CommEntry, data: Uint8Array, dest: number, tag: number, sync: boolean): Promise<void> | undefined {
  if (dest === PROC_NULL) return undefined;
  return c.comm.send(data, dest, { tag, synchronous: sync });
}

/**
 * Receives into `count` elements of th at buf. A dense buffer receives in
 * place (no copy); a derived type the kernels unpack into the runtime's
 * scratch space in the program's memory, then unpacked from there; anything
 * else into a buffer of its own, then unpacked. The scratch space may be
 * malloc'd here: call it before the same MPI call lends any view of the
 * program's memory, or after rt.packer.prepare() for this receive.
 */
async function recvInto(rt: MpiRuntime, c: CommEntry, buf: number, count: number, th: number, source: number, tag: number): Promise<Completion> {
  const t = rt.datatype(th);
  rt.count(count);
  const capacity = count * t.size;
  const st = new FmiStatus();
  // Views of the program's memory only while no user-op callback may grow it (see callbacksPending).
  const lease = t.dense === undefined && rt.callbacksPending === 0 ? rt.packer.lend(count, t) : undefined;
  if (t.dense !== undefined && rt.callbacksPending === 0) {
    await c.comm.recv(srcOf(source), { tag, into: rt.mem.view(buf + t.dense, capacity), status: st });
  } else if (lease !== undefined) {
    try {
      await c.comm.recv(srcOf(source), { tag, into: rt.mem.view(lease.ptr, capacity), status: st });
      lease.unpack(buf, st.bytes);
    } finally {
      lease.release();
    }
  } else {
    const tmp = new Uint8Array(capacity);
    const got = await c.comm.recv<Uint8Array>(srcOf(source), { tag, into: tmp, status: st });
    rt.write(buf, count, th, got);
  }
  return { source: st.source, tag: st.tag, bytes: st.bytes };
}

/** Starts a receive that keeps its own buffer; the data goes into the program at completion. */
function startRecv(rt: MpiRuntime, c: CommEntry, buf: number, count: number, th: number, source: number, tag: number): { run: () => Promise<Completion>; cancel: () => void } {
  const t = rt.datatype(th);
  rt.count(count);
  const capacity = count * t.size;
  let cancelled = false;
  let inner: FmiRequest<Uint8Array> | undefined;
  const run = async (): Promise<Completion> => {
    if (source === PROC_NULL) return nullCompletion(PROC_NULL);
    inner = c.comm.irecv<Uint8Array>(srcOf(source), { tag });
    let data: Uint8Array;
    try {
      data = await inner.wait();
    } catch (err) {
      if (cancelled) return { source: ANY_SOURCE, tag: ANY_TAG, bytes: 0, cancelled: true };
      throw err;
    }
    const s = inner.status;
    if (!(data instanceof Uint8Array)) throw new MpiError(Err.TYPE, 'received a message that was not sent by an MPI program');
    if (data.byteLength > capacity) throw new MpiError(Err.TRUNCATE, `message of ${data.byteLength} bytes from rank ${s.source} does not fit the receive buffer (${capacity} bytes)`);
    return { source: s.source, tag: s.tag, bytes: s.bytes, finish: () => rt.write(buf, count, th, data) };
  };
  return {
    run,
    cancel: () => {
      cancelled = true;
      inner?.cancel();
    },
  };
}

const blockingSend = (sync: boolean): Impl => (rt, buf, count, th, dest, tag, commH) => {
  const c = rt.comm(commH);
  if (dest === PROC_NULL) return checkSendTag(tag), rt.datatype(th), 0;
  return rt.later(() => {
    const t = rt.datatype(th);
    checkSendTag(tag);
    // A derived type is packed into the scratch space and sent from there (no
    // JS copy): the program sleeps until the send completes, and no user-op
    // callback may grow the memory meanwhile (callbacksPending).
    const lease = t.dense === undefined && rt.callbacksPending === 0 ? rt.packer.lendPacked(buf, rt.count(count), t) : undefined;
    if (lease === undefined) return send(rt, c, buf, count, th, dest, tag, false, sync)!.then(() => 0);
    return c.comm.send(rt.mem.view(lease.ptr, lease.bytes), dest, { tag, synchronous: sync }).finally(lease.release).then(() => 0);
  });
};

const nonblockingSend = (sync: boolean): Impl => (rt, buf, count, th, dest, tag, commH, reqPtr) => {
  const c = rt.comm(commH);
  checkSendTag(tag);
  // The data is copied now: the program may grow its memory before the send completes.
  const p = send(rt, c, buf, count, th, dest, tag, true, sync);
  return startRequest(rt, reqPtr, commH, async () => {
    await p;
    return { source: dest, tag, bytes: 0 };
  });
};

const persistentSend = (sync: boolean): Impl => (rt, buf, count, th, dest, tag, commH, reqPtr) => {
  const c = rt.comm(commH);
  checkSendTag(tag);
  rt.datatype(th);
  const r = new MpiRequest(commH, async () => {
    await send(rt, c, buf, count, th, dest, tag, true, sync);
    return { source: dest, tag, bytes: 0 };
  });
  rt.mem.setI32(reqPtr, rt.requests.add(r));
  return 0;
};

function probed(rt: MpiRuntime, status: number, s: FmiStatus | undefined): void {
  if (s) rt.setStatus(status, s.source, s.tag, s.bytes);
}

export const P2P_IMPLS: Record<string, Impl> = {
  MPI_Send: blockingSend(false),
  MPI_Bsend: blockingSend(false),
  MPI_Ssend: blockingSend(true),
  MPI_Rsend: blockingSend(false),
  MPI_Isend: nonblockingSend(false),
  MPI_Ibsend: nonblockingSend(false),
  MPI_Issend: nonblockingSend(true),
  MPI_Irsend: nonblockingSend(false),
  MPI_Send_init: persistentSend(false),
  MPI_Bsend_init: persistentSend(false),
  MPI_Ssend_init: persistentSend(true),
  MPI_Rsend_init: persistentSend(false),

  MPI_Recv(rt, buf, count, th, source, tag, commH, status) {
    const c = rt.comm(commH);
    if (source === PROC_NULL) {
      rt.setStatus(status, PROC_NULL, ANY_TAG, 0);
      return 0;
    }
    return rt.later(() => recvInto(rt, c, buf, count, th, source, tag)).then((s) => {
      rt.setStatus(status, s.source, s.tag, s.bytes);
      return 0;
    });
  },

  MPI_Irecv(rt, buf, count, th, source, tag, commH, reqPtr) {
    const c = rt.comm(commH);
    const { run, cancel } = startRecv(rt, c, buf, count, th, source, tag);
    return startRequest(rt, reqPtr, commH, run, cancel);
  },

  MPI_Recv_init(rt, buf, count, th, source, tag, commH, reqPtr) {
    const c = rt.comm(commH);
    rt.datatype(th);
    let cancel: (() => void) | undefined;
    const r = new MpiRequest(commH, () => {
      const s = startRecv(rt, c, buf, count, th, source, tag);
      cancel = s.cancel;
      r.cancel = () => cancel?.();
      return s.run();
    });
    rt.mem.setI32(reqPtr, rt.requests.add(r));
    return 0;
  },

  MPI_Sendrecv(rt, sbuf, scount, stype, dest, stag, rbuf, rcount, rtype, source, rtag, commH, status) {
    const c = rt.comm(commH);
    checkSendTag(stag);
    return rt.later(() => {
      // Whatever may malloc (and so grow memory, detaching views) comes before
      // the first view is lent: the receive's scratch space and block table,
      // then the send, packed (a view only when dense).
      if (source !== PROC_NULL) rt.packer.prepare(rt.count(rcount), rt.datatype(rtype));
      const data = rt.read(sbuf, scount, stype, false);
      // Post the receive before sending, so that a ring of Sendrecvs can never wait on itself.
      const recv = source === PROC_NULL ? Promise.resolve(nullCompletion(PROC_NULL)) : recvInto(rt, c, rbuf, rcount, rtype, source, rtag);
      recv.catch(() => {});
      const sent = sendData(c, data, dest, stag, false);
      return Promise.all([recv, sent]).then(([s]) => {
        rt.setStatus(status, s.source, s.tag, s.bytes);
        return 0;
      });
    });
  },

  MPI_Sendrecv_replace(rt, buf, count, th, dest, stag, source, rtag, commH, status) {
    const c = rt.comm(commH);
    checkSendTag(stag);
    const recv: Promise<Completion & { data?: Uint8Array }> = source === PROC_NULL ? Promise.resolve(nullCompletion(PROC_NULL)) : recvIntoCopy(rt, c, count, th, source, rtag);
    recv.catch(() => {});
    const sent = send(rt, c, buf, count, th, dest, stag, true, false);
    return Promise.all([recv, sent]).then(([s]) => {
      if (s.data) rt.write(buf, count, th, s.data);
      rt.setStatus(status, s.source, s.tag, s.bytes);
      return 0;
    });
  },

  MPI_Probe(rt, source, tag, commH, status) {
    const c = rt.comm(commH);
    if (source === PROC_NULL) {
      rt.setStatus(status, PROC_NULL, ANY_TAG, 0);
      return 0;
    }
    return c.comm.probe(srcOf(source), { tag }).then((s) => {
      probed(rt, status, s);
      return 0;
    });
  },

  MPI_Iprobe(rt, source, tag, commH, flag, status) {
    const c = rt.comm(commH);
    if (source === PROC_NULL) {
      rt.mem.setI32(flag, 1);
      rt.setStatus(status, PROC_NULL, ANY_TAG, 0);
      return 0;
    }
    const check = (): boolean => {
      const s = c.comm.iprobe(srcOf(source), { tag });
      rt.mem.setI32(flag, s ? 1 : 0);
      probed(rt, status, s);
      return s !== undefined;
    };
    if (check()) return 0;
    // Nothing yet: let the event loop deliver what is on the wire, then look again.
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => (check(), 0));
  },

  // Matched probes: the message is received at once into a buffer of its
  // own, so no other receive can take it; MPI_Mrecv then only copies it.
  MPI_Mprobe(rt, source, tag, commH, msgPtr, status) {
    const c = rt.comm(commH);
    if (source === PROC_NULL) {
      rt.mem.setI32(msgPtr, MESSAGE_NO_PROC);
      rt.setStatus(status, PROC_NULL, ANY_TAG, 0);
      return 0;
    }
    return takeMessage(rt, c, source, tag, msgPtr, status).then(() => 0);
  },

  MPI_Improbe(rt, source, tag, commH, flag, msgPtr, status) {
    const c = rt.comm(commH);
    if (source === PROC_NULL) {
      rt.mem.setI32(flag, 1);
      rt.mem.setI32(msgPtr, MESSAGE_NO_PROC);
      rt.setStatus(status, PROC_NULL, ANY_TAG, 0);
      return 0;
    }
    const take = (s: FmiStatus) => takeMessage(rt, c, s.source, s.tag, msgPtr, status).then(() => (rt.mem.setI32(flag, 1), 0));
    const s = c.comm.iprobe(srcOf(source), { tag });
    if (s) return take(s);
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const later = c.comm.iprobe(srcOf(source), { tag });
      if (later) return take(later);
      rt.mem.setI32(flag, 0);
      return 0;
    });
  },

  MPI_Mrecv(rt, buf, count, th, msgPtr, status) {
    const s = matched(rt, msgPtr);
    rt.write(buf, count, th, s.data);
    rt.setStatus(status, s.source, s.tag, s.data.byteLength);
    return 0;
  },

  MPI_Imrecv(rt, buf, count, th, msgPtr, reqPtr) {
    const s = matched(rt, msgPtr);
    rt.datatype(th);
    return startRequest(rt, reqPtr, 0, async () => ({ source: s.source, tag: s.tag, bytes: s.data.byteLength, finish: () => rt.write(buf, count, th, s.data) }));
  },

  MPI_Get_count(rt, status, th, countPtr) {
    const t = rt.datatype(th, false);
    const bytes = rt.mem.i32(status + Status.COUNT);
    rt.mem.setI32(countPtr, t.size === 0 ? 0 : bytes % t.size === 0 ? bytes / t.size : UNDEFINED);
    return 0;
  },

  MPI_Get_elements(rt, status, th, countPtr) {
    const t = rt.datatype(th, false);
    rt.mem.setI32(countPtr, elementsIn(t, rt.mem.i32(status + Status.COUNT)) ?? UNDEFINED);
    return 0;
  },

  MPI_Get_elements_x(rt, status, th, countPtr) {
    const t = rt.datatype(th, false);
    rt.mem.setI64(countPtr, elementsIn(t, rt.mem.i32(status + Status.COUNT)) ?? UNDEFINED);
    return 0;
  },

  MPI_Status_set_elements(rt, status, th, count) {
    const t = rt.datatype(th, false);
    let per = 0;
    for (let k = 1; k < t.sig.length; k += 2) per += t.sig[k]!;
    rt.mem.setI32(status + Status.COUNT, per === 0 ? 0 : (count / per) * t.size);
    return 0;
  },

  // MPI_Count arrives as two i32 halves (Emscripten legalizes i64 arguments of JS functions).
  MPI_Status_set_elements_x(rt, status, th, lo, hi) {
    return P2P_IMPLS.MPI_Status_set_elements!(rt, status, th, (hi ?? 0) * 2 ** 32 + (lo! >>> 0)) as number;
  },

  MPI_Status_set_cancelled(rt, status, flag) {
    rt.mem.setI32(status + Status.CANCELLED, flag ? 1 : 0);
    return 0;
  },

  MPI_Buffer_attach(rt, ptr, size) {
    if (rt.buffer) throw new MpiError(Err.BUFFER, 'a buffer is already attached');
    rt.buffer = { ptr, size };
    return 0;
  },

  MPI_Buffer_detach(rt, addrPtr, sizePtr) {
    // Buffered sends went out eagerly and are in fmi's hands: nothing to wait for.
    const b = rt.buffer;
    rt.buffer = undefined;
    rt.mem.setI32(addrPtr, b?.ptr ?? 0);
    rt.mem.setI32(sizePtr, b?.size ?? 0);
    return 0;
  },
};

/** A receive into a buffer of its own, for the caller to write into the program afterwards. */
async function recvIntoCopy(rt: MpiRuntime, c: CommEntry, count: number, th: number, source: number, tag: number): Promise<Completion & { data?: Uint8Array }> {
  const t = rt.datatype(th);
  rt.count(count);
  const capacity = count * t.size;
  const st = new FmiStatus();
  const data = await c.comm.recv<Uint8Array>(srcOf(source), { tag, into: new Uint8Array(capacity), status: st });
  return { source: st.source, tag: st.tag, bytes: st.bytes, data };
}

async function takeMessage(rt: MpiRuntime, c: CommEntry, source: number, tag: number, msgPtr: number, status: number): Promise<void> {
  const st = new FmiStatus();
  const data = await c.comm.recv<Uint8Array>(srcOf(source), { tag, status: st });
  if (!(data instanceof Uint8Array)) throw new MpiError(Err.TYPE, 'received a message that was not sent by an MPI program');
  rt.mem.setI32(msgPtr, rt.messages.add({ source: st.source, tag: st.tag, data }));
  rt.setStatus(status, st.source, st.tag, st.bytes);
}

/** The message behind *msgPtr, which becomes MPI_MESSAGE_NULL. */
function matched(rt: MpiRuntime, msgPtr: number): { source: number; tag: number; data: Uint8Array } {
  const h = rt.mem.i32(msgPtr);
  rt.mem.setI32(msgPtr, 0);
  if (h === MESSAGE_NO_PROC) return { source: PROC_NULL, tag: ANY_TAG, data: new Uint8Array(0) };
  const m = rt.messages.get(h);
  if (!m) throw new MpiError(Err.REQUEST, h === 0 ? 'MPI_MESSAGE_NULL is not a message' : `invalid message handle 0x${(h >>> 0).toString(16)}`);
  rt.messages.remove(h);
  return m;
}
