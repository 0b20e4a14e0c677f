// N MPI_SUM allreduces of one Float64Array size through the TS API, their CPU
// taken inside each rank around the loop: the TS side of bench/mpi/cpu.mjs,
// the same loop as bench/mpi/allreduce-cpu.c (7 warm-up calls and a barrier,
// then N). Rank 0 prints {"cpu_us": CPU of the loop summed over ranks,
// "wall_us": the slowest rank's loop}.
//   node dist/cli/main.js run -n 4 --no-prefix bench/mpi/allreduce-n.mjs N BYTES [into]

import { init, Op } from 'fmi';

const [n, bytes, into] = [Number(process.argv[2]), Number(process.argv[3]), process.argv[4] === 'into'];
const comm = await init();
const len = Math.max(1, Math.floor(bytes / 8));
const data = new Float64Array(len).fill(comm.rank + 1);
const opts = into ? { into: new Float64Array(len) } : {};
let out;
for (let i = 0; i < 7; i++) out = await comm.allreduce(data, Op.SUM, opts);
await comm.barrier();
const c0 = process.cpuUsage();
const w0 = performance.now();
for (let i = 0; i < n; i++) out = await comm.allreduce(data, Op.SUM, opts);
const c = process.cpuUsage(c0);
const wall = (performance.now() - w0) * 1e3;
const expected = (comm.size * (comm.size + 1)) / 2;
if (out[0] !== expected || out[len - 1] !== expected) throw new Error(`allreduce: rank ${comm.rank} got ${out[0]}, expected ${expected}`);
const cpu = await comm.reduce(c.user + c.system, Op.SUM, 0);
const slowest = await comm.reduce(wall, Op.MAX, 0);
if (comm.rank === 0) console.log(JSON.stringify({ cpu_us: Math.round(cpu), wall_us: Math.round(slowest) }));
await comm.close();
