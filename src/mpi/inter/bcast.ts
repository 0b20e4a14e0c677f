import type { Start } from '../coll-start.js';
import { interRun, roleOf } from './state.js';

/**
 * MPI_Bcast on an intercommunicator: the root sends to rank 0 of the remote
 * group, which broadcasts within its group. The rest of the root's group
 * (MPI_PROC_NULL) takes no part but its turn.
 */
export const interBcast: Start = async (rt, [buf, count, th, root, commH], copy) => {
  const c = rt.comm(commH!);
  const role = roleOf(c, root!);
  const bytes = rt.count(count!) * rt.datatype(th!).size;
  const data = role === 'root' ? rt.read(buf!, count!, th!, copy) : undefined;
  const got = await interRun(c, async ({ local, cross, tag }) => {
    if (role === 'root') return cross.send(data, 0, { tag });
    if (role === 'idle') return undefined;
    const mine = local.rank === 0 ? await cross.recv<Uint8Array>(root!, { tag }) : undefined;
    return local.bcast<Uint8Array>(mine, 0, { bytes });
  });
  return role === 'leaf' ? () => rt.write(buf!, count!, th!, got as Uint8Array) : () => {};
};
