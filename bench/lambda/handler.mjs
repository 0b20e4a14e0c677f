// The function bench/lambda.mjs invokes in the Invoke API test double.
import { lambdaHandler } from 'fmi/lambda';
import { firstAllreduce } from './first-allreduce.mjs';

// FMI_BENCH_PER_FUNCTION: ranks per invocation (bench/lambda.mjs's lambda-threads-k mode).
export const handler = lambdaHandler((comm) => firstAllreduce(comm), { ranksPerFunction: Number(process.env.FMI_BENCH_PER_FUNCTION ?? 1) });
