import { extentOf } from '../datatypes.js';
import type { Start } from '../coll-start.js';
import { interRun, roleOf } from './state.js';

const addr = (ptr: number, bytes: number) => (ptr >>> 0) + bytes;

/**
 * MPI_Scatter(v) on an intercommunicator: the root sends remote rank r its
 * part (from r * sendcount, or displs[r], elements) straight.
 */
function scatterWith(rt: Parameters<Start>[0], a: number[], copy: boolean, vector: boolean) {
  const [sbuf] = a;
  const [stype, rbuf, rcount, rtype, root, commH] = vector ? [a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!] : [a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!];
  const c = rt.comm(commH);
  const role = roleOf(c, root);
  const n = c.remote!.length;
  let parts: Uint8Array[] = [];
  if (role === 'root') {
    const ext = extentOf(rt.datatype(stype));
    const counts = vector ? rt.mem.i32s(a[1]!, n) : new Array<number>(n).fill(rt.count(a[1]!));
    const displs = vector ? rt.mem.i32s(a[2]!, n) : counts.map((k, r) => k * r);
    parts = counts.map((k, r) => rt.read(addr(sbuf!, displs[r]! * ext), k, stype, copy));
  }
  if (role === 'leaf') rt.datatype(rtype);
  return interRun(c, async ({ cross, tag }) => {
    if (role === 'root') await Promise.all(parts.map((p, r) => cross.send(p, r, { tag })));
    if (role !== 'leaf') return () => {};
    const got = await cross.recv<Uint8Array>(root, { tag });
    return () => rt.write(rbuf, rcount, rtype, got);
  });
}

export const interScatter: Start = async (rt, a, copy) => scatterWith(rt, a, copy, false);
export const interScatterv: Start = async (rt, a, copy) => scatterWith(rt, a, copy, true);
