import type { NumericArray } from '../../kernels/index.js';
import type { Start } from '../coll-start.js';
import { planFor } from '../ops.js';
import { interRun, roleOf } from './state.js';

/**
 * MPI_Reduce on an intercommunicator: the remote group reduces its data to
 * its rank 0, which sends the result to the root. The root's own sendbuf is
 * not read; the rest of the root's group takes no part.
 */
export const interReduce: Start = async (rt, [sbuf, rbuf, count, th, opH, root, commH], copy) => {
  const c = rt.comm(commH!);
  const role = roleOf(c, root!);
  if (role === 'root') {
    const plan = planFor(rt.op(opH!), rt.datatype(th!), th!, rt.mem.host);
    rt.count(count!);
    const got = await interRun(c, ({ cross, tag }) => cross.recv<NumericArray | Uint8Array>(0, { tag }));
    return () => rt.reduceOutput(plan, rbuf!, count!, th!, got);
  }
  const input = role === 'leaf' ? rt.reduceInput(sbuf!, count!, th!, opH!, copy) : undefined;
  await interRun(c, async ({ local, cross, tag }) => {
    if (!input) return;
    const sum = await local.reduce(input.data, input.plan.op, 0);
    if (local.rank === 0) await cross.send(sum, root!, { tag });
  });
  return () => {};
};
