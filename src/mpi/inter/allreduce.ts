import type { NumericArray } from '../../kernels/index.js';
import type { Start } from '../coll-start.js';
import { interRun } from './state.js';

/**
 * MPI_Allreduce on an intercommunicator: each group gets the reduction of
 * the other group's data. Each group reduces to its rank 0, the two swap,
 * and each broadcasts what it got within its group.
 */
export const interAllreduce: Start = async (rt, [sbuf, rbuf, count, th, opH, commH], copy) => {
  const c = rt.comm(commH!);
  const { plan, data } = rt.reduceInput(sbuf!, count!, th!, opH!, copy);
  const got = await interRun(c, async ({ local, cross, tag }) => {
    const mine = await local.reduce(data, plan.op, 0);
    const theirs = local.rank === 0 ? await cross.sendrecv<NumericArray | Uint8Array>(mine, 0, 0, { sendTag: tag, recvTag: tag }) : undefined;
    return local.bcast<NumericArray | Uint8Array>(theirs, 0);
  });
  return () => rt.reduceOutput(plan, rbuf!, count!, th!, got);
};
