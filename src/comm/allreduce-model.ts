import type { DirectAllreduce, ModelOptions } from '../model/types.js';

/** The model options of each allreduce algorithm: one object each, so the choice cache keys them without JSON per call. */
const ALLREDUCE_MODELS = new Map<string, ModelOptions>();
export function allreduceModel(algorithm: DirectAllreduce): ModelOptions {
  let m = ALLREDUCE_MODELS.get(algorithm);
  if (m === undefined) ALLREDUCE_MODELS.set(algorithm, (m = { directAllreduce: algorithm }));
  return m;
}
