import type { Start } from '../coll-start.js';
import { extentOf } from '../datatypes.js';
import { interRun } from './state.js';

const addr = (ptr: number, bytes: number) => (ptr >>> 0) + bytes;

/**
 * MPI_Allgather(v) on an intercommunicator: each rank gets the data of
 * every rank of the other group. Each group gathers its parts at its rank 0
 * (concatenated: the receivers know each part's size from their own counts),
 * the two swap, and each broadcasts what it got within its group.
 */
function allgatherWith(rt: Parameters<Start>[0], a: number[], copy: boolean, vector: boolean) {
  const [sbuf, scount, stype, rbuf] = a;
  const [rtype, commH] = vector ? [a[6]!, a[7]!] : [a[5]!, a[6]!];
  const c = rt.comm(commH);
  const n = c.remote!.length;
  const t = rt.datatype(rtype);
  const counts = vector ? rt.mem.i32s(a[4]!, n) : new Array<number>(n).fill(rt.count(a[4]!));
  const displs = vector ? rt.mem.i32s(a[5]!, n) : counts.map((k, r) => k * r);
  const mine = rt.read(sbuf!, scount!, stype!, copy);
  return interRun(c, async ({ local, cross, tag }) => {
    const ours = await local.gather(mine, 0);
    const theirs = local.rank === 0 ? await cross.sendrecv<Uint8Array>(ours, 0, 0, { sendTag: tag, recvTag: tag }) : undefined;
    const all = await local.bcast<Uint8Array>(theirs, 0);
    return () => {
      let at = 0;
      for (let r = 0; r < n; r++) {
        const len = counts[r]! * t.size;
        rt.write(addr(rbuf!, displs[r]! * extentOf(t)), counts[r]!, rtype, all.subarray(at, at + len));
        at += len;
      }
    };
  });
}

export const interAllgather: Start = async (rt, a, copy) => allgatherWith(rt, a, copy, false);
export const interAllgatherv: Start = async (rt, a, copy) => allgatherWith(rt, a, copy, true);
