// A fixed number of MPI_SUM allreduces of one Float64Array size through the
// TS API: the TS side of bench/mpi/cpu.mjs, which runs bench/native/allreduce.c
// (fmi cc) with the same count. 7 warm-up calls, then N, as allreduce.c does
// with a zero warm-up and MIN_ITERS = MAX_ITERS = N.
//   node dist/cli/main.js run -n 4 --no-prefix bench/mpi/allreduce-n.mjs N BYTES [into]

import { init, Op } from 'fmi';

const [n, bytes, into] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] === 'into'];
const comm = await init();
const len = Math.max(1, Math.floor(bytes / 8));
const data = new Float64Array(len).fill(comm.rank + 1);
const opts = into ? { into: new Float64Array(len) } : {};
let out;
for (let i = 0; i < 7 + n; i++) out = await comm.allreduce(data, Op.SUM, opts);
const expected = (comm.size * (comm.size + 1)) / 2;
if (out[0] !== expected || out[len - 1] !== expected) throw new Error(`allreduce: rank ${comm.rank} got ${out[0]}, expected ${expected}`);
await comm.close();
