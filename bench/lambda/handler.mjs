// The function bench/lambda.mjs invokes in the Invoke API test double.
import { lambdaHandler } from 'fmi/lambda';
import { firstAllreduce } from './first-allreduce.mjs';

export const handler = lambdaHandler((comm) => firstAllreduce(comm));
