import type { NumericArray } from '../../kernels/index.js';
import type { Start } from '../coll-start.js';
import { extentOf } from '../datatypes.js';
import type { MpiRuntime } from '../runtime.js';
import { interRun } from './state.js';

/**
 * MPI_Reduce_scatter(_block) on an intercommunicator: the reduction of one
 * group's vectors is scattered over the other group by that group's counts
 * (MPI 3.1 §5.10). Each group reduces to its rank 0, the two swap, and each
 * scatters what it got within its group.
 */
async function reduceScatterWith(rt: MpiRuntime, sbuf: number, rbuf: number, counts: number[], th: number, opH: number, commH: number, copy: boolean) {
  const c = rt.comm(commH);
  const total = counts.reduce((a, b) => a + rt.count(b, 'recvcounts'), 0);
  const { plan, data } = rt.reduceInput(sbuf, total, th, opH, copy);
  const t = rt.datatype(th);
  // Bytes per element in the reduction's layout: packed, or as laid out in memory for user ops.
  const unit = plan.kind === 'span' ? extentOf(t) : t.size;
  const me = c.comm.rank;
  const got = await interRun(c, async ({ local, cross, tag }) => {
    const mine = await local.reduce(data, plan.op, 0);
    let theirs: Uint8Array | undefined;
    if (local.rank === 0) {
      const r = await cross.sendrecv<NumericArray | Uint8Array>(mine, 0, 0, { sendTag: tag, recvTag: tag });
      // A vector of another length than this group's counts add up to fails the scatter below, at every rank.
      theirs = new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
    }
    return local.scatterv(theirs, counts.map((k) => k * unit), 0);
  });
  return () => rt.reduceOutput(plan, rbuf, counts[me]!, th, got);
}

export const interReduceScatter: Start = async (rt, [sbuf, rbuf, countsP, th, opH, commH], copy) =>
  reduceScatterWith(rt, sbuf!, rbuf!, rt.mem.i32s(countsP!, rt.comm(commH!).comm.size), th!, opH!, commH!, copy);

export const interReduceScatterBlock: Start = async (rt, [sbuf, rbuf, count, th, opH, commH], copy) =>
  reduceScatterWith(rt, sbuf!, rbuf!, new Array<number>(rt.comm(commH!).comm.size).fill(count!), th!, opH!, commH!, copy);
