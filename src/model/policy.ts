import { enabledChannels } from '../config/load.js';
import type { FmiConfig } from '../config/types.js';
import { FmiError } from '../errors.js';
import { estimateWith, paramsOf } from './estimate.js';
import { MODEL_CHANNELS, type Choice, type Estimate, type Hint, type ModelChannel, type ModelOptions, type OpName } from './types.js';

/**
 * Picks the channel for one operation: the least modeled time for `fast`,
 * the least modeled cost for `cheap` (ties go to the other measure, then to
 * the order shm, direct, redis, s3). The choice is the model's argmin and nothing
 * else, so it changes exactly where the model's curves cross.
 */
export function choose(
  op: OpName,
  bytes: number,
  ranks: number,
  hint: Hint,
  channels: readonly ModelChannel[],
  config: FmiConfig,
  options: ModelOptions = {},
): Choice {
  if (hint !== 'fast' && hint !== 'cheap') {
    throw new FmiError('MPI_ERR_ARG', `hint must be 'fast' or 'cheap', got ${JSON.stringify(hint)}`, { op: 'model' });
  }
  const candidates = MODEL_CHANNELS.filter((c) => channels.includes(c));
  if (candidates.length === 0) {
    throw new FmiError('FMI_CONFIG', `no channel to choose from for ${op} (given: ${JSON.stringify(channels)})`, { op });
  }
  const params = paramsOf(config);
  const alternatives = candidates.map((c) => estimateWith(params, c, op, bytes, ranks, options)).sort(compareFor(hint));
  const best = alternatives[0]!;
  return { channel: best.channel, hint, time_s: best.time_s, cost_usd: best.cost_usd, alternatives };
}

/** Orders estimates best first for a hint. */
export function compareFor(hint: Hint): (a: Estimate, b: Estimate) => number {
  const order = (e: Estimate) => MODEL_CHANNELS.indexOf(e.channel);
  return hint === 'fast'
    ? (a, b) => a.time_s - b.time_s || a.cost_usd - b.cost_usd || order(a) - order(b)
    : (a, b) => a.cost_usd - b.cost_usd || a.time_s - b.time_s || order(a) - order(b);
}

export interface PolicyOptions extends ModelOptions {
  /** Ranks of the communicator. */
  ranks: number;
  /** Channels to choose among. @default the config's enabled backends */
  channels?: readonly ModelChannel[];
  /** @default 'fast' */
  hint?: Hint;
}

/**
 * A communicator's policy: its config, size, function memory and current
 * hint, so that each operation asks only `choose(op, bytes)`.
 */
export class Policy {
  hint: Hint;
  readonly ranks: number;
  readonly channels: readonly ModelChannel[];
  readonly #config: FmiConfig;
  readonly #options: ModelOptions;

  constructor(config: FmiConfig, options: PolicyOptions) {
    const { ranks, channels, hint, ...model } = options;
    this.#config = config;
    this.ranks = ranks;
    this.channels = channels ?? enabledChannels(config);
    this.hint = hint ?? 'fast';
    this.#options = model;
  }

  choose(op: OpName, bytes: number, hint: Hint = this.hint, model?: ModelOptions): Choice {
    return choose(op, bytes, this.ranks, hint, this.channels, this.#config, model ? { ...this.#options, ...model } : this.#options);
  }

  /** The model's estimate for a channel, e.g. to report the modeled cost of what was used. */
  estimate(channel: ModelChannel, op: OpName, bytes: number, options: ModelOptions = {}): Estimate {
    return estimateWith(paramsOf(this.#config), channel, op, bytes, this.ranks, { ...this.#options, ...options });
  }
}
