import { extentOf } from '../datatypes.js';
import type { Start } from '../coll-start.js';
import { interRun, roleOf } from './state.js';

const addr = (ptr: number, bytes: number) => (ptr >>> 0) + bytes;

/**
 * MPI_Gather(v) on an intercommunicator: every rank of the remote group
 * sends its part straight to the root, which places remote rank r's at
 * r * recvcount (Gather) or displs[r] (Gatherv) elements.
 */
function gatherWith(rt: Parameters<Start>[0], a: number[], copy: boolean, vector: boolean) {
  const [sbuf, scount, stype] = a;
  const [rbuf, rtype, root, commH] = vector ? [a[3]!, a[6]!, a[7]!, a[8]!] : [a[3]!, a[5]!, a[6]!, a[7]!];
  const c = rt.comm(commH);
  const role = roleOf(c, root);
  const n = c.remote!.length;
  let counts: number[] = [];
  let displs: number[] = [];
  let ext = 0;
  if (role === 'root') {
    const t = rt.datatype(rtype);
    ext = extentOf(t);
    counts = vector ? rt.mem.i32s(a[4]!, n) : new Array<number>(n).fill(rt.count(a[4]!));
    displs = vector ? rt.mem.i32s(a[5]!, n) : counts.map((k, r) => k * r);
  }
  const mine = role === 'leaf' ? rt.read(sbuf!, scount!, stype!, copy) : undefined;
  return interRun(c, async ({ cross, tag }) => {
    if (role === 'leaf') await cross.send(mine, root, { tag });
    if (role !== 'root') return () => {};
    const parts = await Promise.all(Array.from({ length: n }, (_, r) => cross.recv<Uint8Array>(r, { tag })));
    return () => parts.forEach((p, r) => rt.write(addr(rbuf, displs[r]! * ext), counts[r]!, rtype, p));
  });
}

export const interGather: Start = async (rt, a, copy) => gatherWith(rt, a, copy, false);
export const interGatherv: Start = async (rt, a, copy) => gatherWith(rt, a, copy, true);
