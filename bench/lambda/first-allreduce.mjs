// What bench/lambda.mjs times on every rank, the same under fmi run and in a
// function: two allreduces of 1 KiB. The first pairs the ranks it needs (the
// direct channel connects on first use); the second is warm, so pairing is
// about the first's time less the second's.
import { Op } from 'fmi';

export async function firstAllreduce(comm) {
  const data = new Float64Array(128).fill(comm.rank);
  const t1 = Date.now();
  await comm.allreduce(data, Op.SUM);
  const firstDoneAt = Date.now();
  const t2 = performance.now();
  await comm.allreduce(data, Op.SUM);
  return { firstMs: firstDoneAt - t1, secondMs: performance.now() - t2, firstDoneAt };
}
