export { estimate, estimateWith, paramsOf, DEFAULT_MEMORY_MIB, FRESH_MIN_BYTES } from './estimate.js';
export { choose, compareFor, Policy, type PolicyOptions } from './policy.js';
export { pollWait, S3_BACKOFF, type PollWait } from './polling.js';
export { directTraffic, type P2pTraffic, type DirectLink } from './direct.js';
export { storeTraffic, type StoreLink, type StoreTraffic } from './mediated.js';
export { modelParams, MB, GB, GIB, MIB, type ModelParams, type LinkParams, type DirectParams, type RedisParams, type S3Params, type ShmParams } from './params.js';
export {
  OPS,
  CHANNELS,
  MODEL_CHANNELS,
  type ModelChannel,
  type OpName,
  type Hint,
  type Backoff,
  type ModelOptions,
  type RequestCounts,
  type CostBreakdown,
  type Estimate,
  type Choice,
  type ChannelName,
  type DirectAllreduce,
} from './types.js';
export { fitLink, median, type LinkFit, type TimePoint } from './fit.js';
export { fitChannel, fitGap, fitFresh, modelPatch, type ChannelMeasurements, type ChannelFit, type ModelPatch, type Sample, type LegSample } from './calibration.js';
