import { init, Op } from 'fmi';
const comm = await init();
const N = Number(process.env.N ?? 200);
for (let k = 0; k < 2; k++) {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await comm.barrier();
  const dt = (performance.now() - t0) / N;
  if (comm.rank === 0) console.log(`barrier ${dt.toFixed(1)} ms/1000 = ${(dt*1000).toFixed(0)} us`);
}
const d = new Float64Array(131072).fill(1);
for (let k = 0; k < 2; k++) {
  const t0 = performance.now();
  for (let i = 0; i < 50; i++) await comm.allreduce(d, Op.SUM);
  const dt = (performance.now() - t0) / 50;
  if (comm.rank === 0) console.log(`allreduce 1m ${(dt*1000).toFixed(0)} us`);
}
await comm.close();
