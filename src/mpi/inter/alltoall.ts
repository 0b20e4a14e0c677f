import type { Start } from '../coll-start.js';
import { extentOf } from '../datatypes.js';
import type { MpiRuntime } from '../runtime.js';
import { interRun } from './state.js';

const addr = (ptr: number, bytes: number) => (ptr >>> 0) + bytes;

/** Where remote rank r's block is: count, byte offset, datatype. */
interface Block {
  count: number;
  at: number;
  type: number;
}

/**
 * MPI_Alltoall(v,w) on an intercommunicator: block r of each rank's send
 * buffer goes to rank r of the other group, block s of its receive buffer
 * comes from rank s there. Every pair exchanges directly.
 */
async function exchange(rt: MpiRuntime, commH: number, sbuf: number, sends: Block[], rbuf: number, recvs: Block[], copy: boolean) {
  const c = rt.comm(commH);
  const parts = sends.map((b) => rt.read(addr(sbuf, b.at), b.count, b.type, copy));
  for (const b of recvs) rt.datatype(b.type);
  return interRun(c, async ({ cross, tag }) => {
    const got = Promise.all(recvs.map((_, s) => cross.recv<Uint8Array>(s, { tag })));
    got.catch(() => {}); // awaited below, after the sends
    await Promise.all(parts.map((p, r) => cross.send(p, r, { tag })));
    const all = await got;
    return () => recvs.forEach((b, s) => rt.write(addr(rbuf, b.at), b.count, b.type, all[s]!));
  });
}

/** Blocks of one type: `count` each (Alltoall), or counts and displacements in elements (Alltoallv). */
function blocks(rt: MpiRuntime, n: number, type: number, count: number | undefined, countsP: number, displsP: number): Block[] {
  const ext = extentOf(rt.datatype(type));
  if (count !== undefined) return Array.from({ length: n }, (_, r) => ({ count: rt.count(count), at: r * count * ext, type }));
  const counts = rt.mem.i32s(countsP, n);
  const displs = rt.mem.i32s(displsP, n);
  return counts.map((k, r) => ({ count: k, at: displs[r]! * ext, type }));
}

export const interAlltoall: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, commH], copy) => {
  const n = rt.comm(commH!).remote!.length;
  return exchange(rt, commH!, sbuf!, blocks(rt, n, stype!, scount!, 0, 0), rbuf!, blocks(rt, n, rtype!, rcount!, 0, 0), copy);
};

export const interAlltoallv: Start = async (rt, [sbuf, scountsP, sdisplsP, stype, rbuf, rcountsP, rdisplsP, rtype, commH], copy) => {
  const n = rt.comm(commH!).remote!.length;
  return exchange(rt, commH!, sbuf!, blocks(rt, n, stype!, undefined, scountsP!, sdisplsP!), rbuf!, blocks(rt, n, rtype!, undefined, rcountsP!, rdisplsP!), copy);
};

/** Alltoallw: a datatype per peer, displacements in bytes. */
export const interAlltoallw: Start = async (rt, [sbuf, scountsP, sdisplsP, stypesP, rbuf, rcountsP, rdisplsP, rtypesP, commH], copy) => {
  const n = rt.comm(commH!).remote!.length;
  const w = (countsP: number, displsP: number, typesP: number): Block[] => {
    const counts = rt.mem.i32s(countsP, n);
    const displs = rt.mem.i32s(displsP, n);
    const types = rt.mem.i32s(typesP, n);
    return counts.map((k, r) => ({ count: k, at: displs[r]!, type: types[r]! }));
  };
  return exchange(rt, commH!, sbuf!, w(scountsP!, sdisplsP!, stypesP!), rbuf!, w(rcountsP!, rdisplsP!, rtypesP!), copy);
};
