// The same job under fmi run: one rank; prints its timestamps as a JSON line.
import { init } from 'fmi';
import { firstAllreduce } from './first-allreduce.mjs';

const startedAt = Date.now();
const comm = await init();
const initDoneAt = Date.now();
const r = await firstAllreduce(comm);
await comm.close();
console.log(JSON.stringify({ rank: comm.rank, startedAt, initDoneAt, ...r }));
