// The smallest fmi program: every rank says hello, rank 0 broadcasts a
// greeting, and all ranks add up their rank numbers with allreduce.
//
//   node dist/cli/main.js run -n 3 examples/hello.mjs
import { init, Op } from 'fmi';

const comm = await init();
console.log(`hello from rank ${comm.rank} of ${comm.size}`);

// bcast: any structured value (or a TypedArray) from the root to everyone.
const greeting = await comm.bcast(comm.rank === 0 ? { text: 'greetings from rank 0', at: new Date().toISOString() } : undefined, 0);
console.log(`rank ${comm.rank} got: ${greeting.text}`);

// allreduce: element-wise SUM over a Float64Array from every rank.
const sum = await comm.allreduce(Float64Array.of(comm.rank, 1), Op.SUM);
console.log(`rank ${comm.rank}: sum of ranks = ${sum[0]}, number of ranks = ${sum[1]}`);

await comm.close();
