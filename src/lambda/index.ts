// fmi/lambda: fmi on AWS Lambda. The handler side (lambdaHandler,
// lambdaProgram) runs in the function; invokeJob fans a job out from a
// launcher. Neither loads the AWS SDK until invokeJob is called.
export { lambdaHandler, type LambdaHandler, type LambdaHandlerOptions, type RankFunction } from './handler.js';
export { rankError } from './rank-results.js';
export { lambdaProgram, type LambdaProgramOptions, type ProgramResult } from './program.js';
export {
  readPayload,
  MAX_RESPONSE_BYTES,
  type LambdaPayload,
  type FmiPayload,
  type LambdaContext,
  type RankResult,
  type RankError,
  type RankStats,
  type FunctionResult,
} from './payload.js';
export { RankTakenError } from './rank-claim.js';
export { invokeJob, type InvokeJobOptions, type JobResult, type RankOutcome, type RankStatus, type Progress } from './invoke.js';
export { jobCost, REQUEST_PRICE_USD, type JobCost } from './cost.js';
