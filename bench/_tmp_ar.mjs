import { init, Op } from 'fmi';
const comm = await init();
const d = new Float64Array(131072).fill(1);
const into = new Float64Array(131072);
for (const useInto of [false, true]) for (let k = 0; k < 2; k++) {
  const t0 = performance.now();
  for (let i = 0; i < 30; i++) await comm.allreduce(d, Op.SUM, useInto ? { into } : {});
  const dt = (performance.now() - t0) / 30;
  if (comm.rank === 0) console.log(`n ${comm.size} into ${useInto} allreduce 1m ${(dt*1000).toFixed(0)} us`);
}
await comm.close();
