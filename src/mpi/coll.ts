import { reduceJs, type NumericArray } from '../kernels/index.js';
import { ANY_SOURCE, ANY_TAG, Err, HandleBase, IN_PLACE } from './abi.js';
import { extentOf } from './datatypes.js';
import { planFor, type Plan } from './ops.js';
import { MpiError } from './errors.js';
import { startRequest } from './requests.js';
import type { Impl, MpiRuntime } from './runtime.js';
import { interAllgather, interAllgatherv } from './inter/allgather.js';
import { interAllreduce } from './inter/allreduce.js';
import { interAlltoall, interAlltoallv, interAlltoallw } from './inter/alltoall.js';
import { interBcast } from './inter/bcast.js';
import { interGather, interGatherv } from './inter/gather.js';
import { interReduce } from './inter/reduce.js';
import { interReduceScatter, interReduceScatterBlock } from './inter/reduce-scatter.js';
import { interScatter, interScatterv } from './inter/scatter.js';
import type { Finish, Start } from './coll-start.js';

export type { Finish, Start } from './coll-start.js';

const addr = (ptr: number, bytes: number) => (ptr >>> 0) + bytes;
const noop: Finish = () => {};

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const bytesOf = (v: NumericArray | Uint8Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

const barrier: Start = async (rt, [commH]) => {
  const c = rt.comm(commH!);
  await c.comm.barrier({});
  return noop;
};

const bcast: Start = async (rt, [buf, count, th, root, commH], copy) => {
  const c = rt.comm(commH!);
  const me = c.comm.rank;
  const bytes = rt.count(count!) * rt.datatype(th!).size;
  const data = me === root ? rt.read(buf!, count!, th!, copy) : undefined;
  // Every rank knows the size (matching type signatures): the channel can follow the model.
  const got = await c.comm.bcast<Uint8Array>(data, root!, { bytes });
  return me === root ? noop : () => rt.write(buf!, count!, th!, got);
};

const gather: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, root, commH], copy) => {
  const c = rt.comm(commH!);
  const { rank: me, size: n } = c.comm;
  const isRoot = me === root;
  const inPlace = isRoot && sbuf === IN_PLACE;
  let rs = 0;
  let rext = 0;
  if (isRoot) {
    const rt_ = rt.datatype(rtype!);
    rs = rt.count(rcount!) * rt_.size;
    rext = rcount! * extentOf(rt_);
  }
  const mine = inPlace ? rt.read(addr(rbuf!, me * rext), rcount!, rtype!, copy) : rt.read(sbuf!, scount!, stype!, copy);
  const counts = isRoot ? new Array<number>(n).fill(rs) : oneCount(n, me, mine.byteLength);
  const all = await c.comm.gatherv(mine, counts, root!);
  if (!isRoot) return noop;
  return () => {
    for (let r = 0; r < n; r++) if (!(inPlace && r === me)) rt.write(addr(rbuf!, r * rext), rcount!, rtype!, all!.subarray(r * rs, (r + 1) * rs));
  };
};

const gatherv: Start = async (rt, [sbuf, scount, stype, rbuf, rcountsP, displsP, rtype, root, commH], copy) => {
  const c = rt.comm(commH!);
  const { rank: me, size: n } = c.comm;
  const isRoot = me === root;
  const inPlace = isRoot && sbuf === IN_PLACE;
  let rcounts: number[] = [];
  let displs: number[] = [];
  let rsize = 0;
  let rext = 0;
  if (isRoot) {
    const t = rt.datatype(rtype!);
    rcounts = rt.mem.i32s(rcountsP!, n);
    displs = rt.mem.i32s(displsP!, n);
    rsize = t.size;
    rext = extentOf(t);
  }
  const mine = inPlace ? rt.read(addr(rbuf!, displs[me]! * rext), rcounts[me]!, rtype!, copy) : rt.read(sbuf!, scount!, stype!, copy);
  const counts = isRoot ? rcounts.map((k) => k * rsize) : oneCount(n, me, mine.byteLength);
  const all = await c.comm.gatherv(mine, counts, root!);
  if (!isRoot) return noop;
  return () => {
    let at = 0;
    for (let r = 0; r < n; r++) {
      const len = counts[r]!;
      if (!(inPlace && r === me)) rt.write(addr(rbuf!, displs[r]! * rext), rcounts[r]!, rtype!, all!.subarray(at, at + len));
      at += len;
    }
  };
};

const scatter: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, root, commH], copy) => {
  const c = rt.comm(commH!);
  const { rank: me, size: n } = c.comm;
  const isRoot = me === root;
  const inPlace = isRoot && rbuf === IN_PLACE;
  let data: Uint8Array | undefined;
  let counts = new Array<number>(n).fill(0);
  if (isRoot) {
    data = rt.read(sbuf!, n * rt.count(scount!), stype!, copy);
    counts = counts.fill(data.byteLength / n);
  }
  if (!inPlace) rt.datatype(rtype!);
  const mine = await c.comm.scatterv(data, counts, root!);
  return inPlace ? noop : () => rt.write(rbuf!, rcount!, rtype!, mine);
};

// The v-variants below gather their parts into one new buffer: always a copy.
const scatterv: Start = async (rt, [sbuf, scountsP, displsP, stype, rbuf, rcount, rtype, root, commH]) => {
  const c = rt.comm(commH!);
  const { rank: me, size: n } = c.comm;
  const isRoot = me === root;
  const inPlace = isRoot && rbuf === IN_PLACE;
  let data: Uint8Array | undefined;
  let counts = new Array<number>(n).fill(0);
  if (isRoot) {
    const t = rt.datatype(stype!);
    const scounts = rt.mem.i32s(scountsP!, n);
    const displs = rt.mem.i32s(displsP!, n);
    const parts = scounts.map((k, r) => rt.read(addr(sbuf!, displs[r]! * extentOf(t)), k, stype!, true));
    counts = parts.map((p) => p.byteLength);
    data = concat(parts);
  }
  if (!inPlace) rt.datatype(rtype!);
  const mine = await c.comm.scatterv(data, counts, root!);
  return inPlace ? noop : () => rt.write(rbuf!, rcount!, rtype!, mine);
};

const allgather: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, commH], copy) => {
  const c = rt.comm(commH!);
  const { rank: me, size: n } = c.comm;
  const t = rt.datatype(rtype!);
  const rs = rt.count(rcount!) * t.size;
  const rext = rcount! * extentOf(t);
  const inPlace = sbuf === IN_PLACE;
  const mine = inPlace ? rt.read(addr(rbuf!, me * rext), rcount!, rtype!, true) : rt.read(sbuf!, scount!, stype!, copy);
  const all = await c.comm.allgatherv(mine, new Array<number>(n).fill(rs));
  return () => {
    for (let r = 0; r < n; r++) if (!(inPlace && r === me)) rt.write(addr(rbuf!, r * rext), rcount!, rtype!, all.subarray(r * rs, (r + 1) * rs));
  };
};

const allgatherv: Start = async (rt, [sbuf, scount, stype, rbuf, rcountsP, displsP, rtype, commH], copy) => {
  const c = rt.comm(commH!);
  const { rank: me, size: n } = c.comm;
  const t = rt.datatype(rtype!);
  const rcounts = rt.mem.i32s(rcountsP!, n);
  const displs = rt.mem.i32s(displsP!, n);
  const rext = extentOf(t);
  const inPlace = sbuf === IN_PLACE;
  const mine = inPlace ? rt.read(addr(rbuf!, displs[me]! * rext), rcounts[me]!, rtype!, true) : rt.read(sbuf!, scount!, stype!, copy);
  const counts = rcounts.map((k) => k * t.size);
  const all = await c.comm.allgatherv(mine, counts);
  return () => {
    let at = 0;
    for (let r = 0; r < n; r++) {
      if (!(inPlace && r === me)) rt.write(addr(rbuf!, displs[r]! * rext), rcounts[r]!, rtype!, all.subarray(at, at + counts[r]!));
      at += counts[r]!;
    }
  };
};

const alltoall: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, commH], copy) => {
  const c = rt.comm(commH!);
  const n = c.comm.size;
  const t = rt.datatype(rtype!);
  const rs = rt.count(rcount!) * t.size;
  const rext = rcount! * extentOf(t);
  const data = sbuf === IN_PLACE ? rt.read(rbuf!, n * rcount!, rtype!, true) : rt.read(sbuf!, n * rt.count(scount!), stype!, copy);
  const out = (await c.comm.alltoall(data)) as Uint8Array;
  return () => {
    const got = out.byteLength / n;
    if (got > rs) throw new MpiError(Err.TRUNCATE, `alltoall: received blocks of ${got} bytes, the receive blocks hold ${rs}`);
    for (let r = 0; r < n; r++) rt.write(addr(rbuf!, r * rext), rcount!, rtype!, out.subarray(r * got, r * got + got));
  };
};

const alltoallv: Start = async (rt, [sbuf, scountsP, sdisplsP, stype, rbuf, rcountsP, rdisplsP, rtype, commH]) => {
  const c = rt.comm(commH!);
  const n = c.comm.size;
  const rt_ = rt.datatype(rtype!);
  const rcounts = rt.mem.i32s(rcountsP!, n);
  const rdispls = rt.mem.i32s(rdisplsP!, n);
  const inPlace = sbuf === IN_PLACE;
  const st = inPlace ? rt_ : rt.datatype(stype!);
  const scounts = inPlace ? rcounts : rt.mem.i32s(scountsP!, n);
  const sdispls = inPlace ? rdispls : rt.mem.i32s(sdisplsP!, n);
  const from = inPlace ? rbuf! : sbuf!;
  const parts = scounts.map((k, d) => rt.read(addr(from, sdispls[d]! * extentOf(st)), k, inPlace ? rtype! : stype!, true));
  const rcountsB = rcounts.map((k) => k * rt_.size);
  const out = await c.comm.alltoallv(concat(parts), parts.map((p) => p.byteLength), rcountsB);
  return () => {
    let at = 0;
    for (let s = 0; s < n; s++) {
      rt.write(addr(rbuf!, rdispls[s]! * extentOf(rt_)), rcounts[s]!, rtype!, out.subarray(at, at + rcountsB[s]!));
      at += rcountsB[s]!;
    }
  };
};

/** Alltoallw: a datatype per peer, displacements in bytes. */
const alltoallw: Start = async (rt, [sbuf, scountsP, sdisplsP, stypesP, rbuf, rcountsP, rdisplsP, rtypesP, commH]) => {
  const c = rt.comm(commH!);
  const n = c.comm.size;
  const rcounts = rt.mem.i32s(rcountsP!, n);
  const rdispls = rt.mem.i32s(rdisplsP!, n);
  const rtypes = rt.mem.i32s(rtypesP!, n);
  const inPlace = sbuf === IN_PLACE;
  const scounts = inPlace ? rcounts : rt.mem.i32s(scountsP!, n);
  const sdispls = inPlace ? rdispls : rt.mem.i32s(sdisplsP!, n);
  const stypes = inPlace ? rtypes : rt.mem.i32s(stypesP!, n);
  const from = inPlace ? rbuf! : sbuf!;
  const parts = scounts.map((k, d) => rt.read(addr(from, sdispls[d]!), k, stypes[d]!, true));
  const rcountsB = rcounts.map((k, s) => k * rt.datatype(rtypes[s]!).size);
  const out = await c.comm.alltoallv(concat(parts), parts.map((p) => p.byteLength), rcountsB);
  return () => {
    let at = 0;
    for (let s = 0; s < n; s++) {
      rt.write(addr(rbuf!, rdispls[s]!), rcounts[s]!, rtypes[s]!, out.subarray(at, at + rcountsB[s]!));
      at += rcountsB[s]!;
    }
  };
};

/**
 * Blocking calls hand the program's receive buffer to the collective as
 * `into` (the program sleeps, nothing grows its memory meanwhile): the result
 * lands there without another buffer. Otherwise `finish` copies it in.
 */
function reduceResult(rt: MpiRuntime, plan: Plan, rbuf: number, count: number, th: number, copy: boolean, wanted: boolean): { into?: NumericArray; finish: (res: unknown) => Finish } {
  const into = copy || !wanted ? undefined : rt.resultView(plan, rbuf, count, th);
  return {
    into,
    finish: (res) => (res === undefined || into !== undefined ? noop : () => rt.reduceOutput(plan, rbuf, count, th, res as NumericArray | Uint8Array)),
  };
}

const reduce: Start = async (rt, [sbuf, rbuf, count, th, opH, root, commH], copy) => {
  const c = rt.comm(commH!);
  const isRoot = c.comm.rank === root;
  const src = isRoot && sbuf === IN_PLACE ? rbuf! : sbuf!;
  const { plan, data } = rt.reduceInput(src, count!, th!, opH!, copy);
  const out = reduceResult(rt, plan, rbuf!, count!, th!, copy, isRoot);
  return out.finish(await c.comm.reduce(data, plan.op, root!, { into: out.into }));
};

const allreduce: Start = async (rt, [sbuf, rbuf, count, th, opH, commH], copy) => {
  const c = rt.comm(commH!);
  const src = sbuf === IN_PLACE ? rbuf! : sbuf!;
  const { plan, data } = rt.reduceInput(src, count!, th!, opH!, copy);
  const out = reduceResult(rt, plan, rbuf!, count!, th!, copy, true);
  return out.finish(await c.comm.allreduce(data, plan.op, { into: out.into }));
};

function reduceScatterWith(rt: MpiRuntime, sbuf: number, rbuf: number, counts: number[], th: number, opH: number, commH: number, copy: boolean): Promise<Finish> {
  const c = rt.comm(commH);
  const me = c.comm.rank;
  const t = rt.datatype(th);
  const total = counts.reduce((a, b) => a + rt.count(b, 'recvcounts'), 0);
  const { plan, data } = rt.reduceInput(sbuf === IN_PLACE ? rbuf : sbuf, total, th, opH, copy);
  const unit = plan.kind === 'typed' ? t.size / (data as NumericArray).BYTES_PER_ELEMENT : plan.kind === 'bytes' ? t.size : extentOf(t);
  const out = reduceResult(rt, plan, rbuf, counts[me]!, th, copy, true);
  return c.comm.reduceScatter(data as NumericArray, plan.op, { counts: counts.map((k) => k * unit), into: out.into }).then(out.finish);
}

const reduceScatter: Start = async (rt, [sbuf, rbuf, countsP, th, opH, commH], copy) => {
  const c = rt.comm(commH!);
  return reduceScatterWith(rt, sbuf!, rbuf!, rt.mem.i32s(countsP!, c.comm.size), th!, opH!, commH!, copy);
};

const reduceScatterBlock: Start = async (rt, [sbuf, rbuf, count, th, opH, commH], copy) => {
  const c = rt.comm(commH!);
  return reduceScatterWith(rt, sbuf!, rbuf!, new Array<number>(c.comm.size).fill(count!), th!, opH!, commH!, copy);
};

const scan: Start = async (rt, [sbuf, rbuf, count, th, opH, commH], copy) => {
  const c = rt.comm(commH!);
  const { plan, data } = rt.reduceInput(sbuf === IN_PLACE ? rbuf! : sbuf!, count!, th!, opH!, copy);
  const out = reduceResult(rt, plan, rbuf!, count!, th!, copy, true);
  return out.finish(await c.comm.scan(data, plan.op, { into: out.into }));
};

const exscan: Start = async (rt, [sbuf, rbuf, count, th, opH, commH], copy) => {
  const c = rt.comm(commH!);
  const { plan, data } = rt.reduceInput(sbuf === IN_PLACE ? rbuf! : sbuf!, count!, th!, opH!, copy);
  // Rank 0's receive buffer is undefined by MPI: exscan leaves it alone.
  const out = reduceResult(rt, plan, rbuf!, count!, th!, copy, c.comm.rank > 0);
  return out.finish(await c.comm.exscan(data, plan.op, { into: out.into }));
};

/** Counts for a v-collective at a rank where only its own count matters. */
function oneCount(n: number, me: number, bytes: number): number[] {
  const counts = new Array<number>(n).fill(0);
  counts[me] = bytes;
  return counts;
}

/**
 * A blocking collective: starts once the program is suspended (rt.later's
 * rule), written as one async function: `await` on the collective's promise
 * takes one microtask where a `.then` callback returning it took three.
 */
export const blocking = (s: Start): Impl => async (rt, ...a) => {
  await Promise.resolve();
  (await s(rt, a, false))();
  return 0;
};

/** Reductions take their op as argument 4. */
const REDUCTIONS = new Set(['Reduce', 'Allreduce', 'Reduce_scatter', 'Reduce_scatter_block', 'Scan', 'Exscan']);

export const nonblocking = (s: Start, name: string): Impl => (rt, ...a) => {
  const reqPtr = a.pop()!;
  // A user op runs C code (which may malloc, so grow memory) while the program waits elsewhere.
  const callsBack = REDUCTIONS.has(name) && rt.ops.get(a[4]!)?.kind === 'user';
  const p = s(rt, a, true);
  p.catch(() => {});
  if (callsBack) {
    rt.callbacksPending++;
    void p.finally(() => rt.callbacksPending--).catch(() => {});
  }
  return startRequest(rt, reqPtr, rt.currentComm, async () => ({ source: ANY_SOURCE, tag: ANY_TAG, bytes: 0, finish: await p }));
};

/**
 * The intracommunicator form, or the intercommunicator one (MPI 3.1 §5.2.2)
 * when the communicator (every collective's last argument) has a remote group.
 */
const either = (intra: Start, inter: Start): Start => (rt, a, copy) => (rt.comm(a[a.length - 1]!).remote ? inter : intra)(rt, a, copy);

const STARTS: Record<string, Start> = {
  // Barrier runs over both groups of an intercommunicator as it is; Scan and Exscan are not defined on one.
  Barrier: barrier, Bcast: either(bcast, interBcast), Gather: either(gather, interGather), Gatherv: either(gatherv, interGatherv),
  Scatter: either(scatter, interScatter), Scatterv: either(scatterv, interScatterv), Allgather: either(allgather, interAllgather),
  Allgatherv: either(allgatherv, interAllgatherv), Alltoall: either(alltoall, interAlltoall), Alltoallv: either(alltoallv, interAlltoallv),
  Alltoallw: either(alltoallw, interAlltoallw), Reduce: either(reduce, interReduce), Allreduce: either(allreduce, interAllreduce),
  Reduce_scatter: either(reduceScatter, interReduceScatter), Reduce_scatter_block: either(reduceScatterBlock, interReduceScatterBlock),
  Scan: scan, Exscan: exscan,
};

export const COLL_IMPLS: Record<string, Impl> = {
  ...Object.fromEntries(Object.entries(STARTS).map(([k, s]) => [`MPI_${k}`, blocking(s)])),
  ...Object.fromEntries(Object.entries(STARTS).map(([k, s]) => [`MPI_I${k.toLowerCase()}`, nonblocking(s, k)])),

  MPI_Reduce_local(rt, inbuf, inoutbuf, count, th, opH) {
    const o = rt.op(opH);
    if (o.kind === 'user') {
      rt.datatype(th);
      const host = rt.mem.host;
      const p = host.malloc(8);
      try {
        rt.mem.setI32(p, count);
        rt.mem.setI32(p + 4, th);
        host.call(o.fn!, inbuf, inoutbuf, p, p + 4);
      } finally {
        host.free(p);
      }
      return 0;
    }
    if (o.kind === 'predefined') {
      const plan = planFor(o, rt.datatype(th), th, rt.mem.host);
      if (plan.kind === 'typed' && rt.combineInPlace(plan, o.predefined!, inbuf, inoutbuf, count, th)) return 0;
    }
    const a = rt.reduceInput(inbuf, count, th, opH, true);
    const b = rt.reduceData(a.plan, inoutbuf, count, th, true);
    let res: NumericArray | Uint8Array;
    if (a.plan.kind === 'typed') {
      reduceJs(o.predefined!, b as NumericArray, a.data as NumericArray);
      res = b;
    } else {
      res = a.plan.op.fn!(a.data, b) as Uint8Array;
    }
    rt.reduceOutput(a.plan, inoutbuf, count, th, bytesOf(res));
    return 0;
  },

  MPI_Op_create(rt, fn, commute, opPtr) {
    if (fn === 0) throw new MpiError(Err.ARG, 'MPI_Op_create needs a function');
    rt.mem.setI32(opPtr, rt.ops.add({ name: `user op ${fn}`, kind: 'user', fn, commute: commute !== 0 }));
    return 0;
  },

  MPI_Op_free(rt, opPtr) {
    const h = rt.mem.i32(opPtr);
    rt.op(h);
    if (h - HandleBase.op < 32) throw new MpiError(Err.OP, 'predefined ops cannot be freed');
    // A pending non-blocking reduction may still call it.
    rt.retire(() => rt.ops.remove(h));
    rt.mem.setI32(opPtr, 0);
    return 0;
  },

  MPI_Op_commutative(rt, opH, flag) {
    rt.mem.setI32(flag, rt.op(opH).commute ? 1 : 0);
    return 0;
  },
};
