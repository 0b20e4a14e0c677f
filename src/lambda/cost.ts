import { DEFAULT_CONFIG } from '../config/index.js';
import type { FmiConfig } from '../config/types.js';
import type { RankOutcome } from './invoke.js';

/** Lambda's price per request (x86 and arm64 alike): $0.20 per million. */
export const REQUEST_PRICE_USD = 0.2 / 1e6;

export interface JobCost {
  /** Σ over invocations of billed ms × memory, in GB-seconds (GiB as Lambda counts them). */
  billedGbSeconds: number;
  /** billedGbSeconds × the config's FaaS.gib_second_price. */
  functionUsd: number;
  /** Invocations that ran × Lambda's request price (an invocation of several ranks is one request). */
  requestUsd: number;
  /** The channels' part of the cost model's figure (requests, infrastructure share), from the ranks' comm.stats(). */
  channelUsd: number;
  totalUsd: number;
  /** Invocations whose billed time is the handler's own duration (no REPORT line in the log tail): with one rank per function, ranks. */
  estimatedRanks: number;
}

/**
 * The job's cost. Collectives' modeled figures are the whole job's on every
 * rank (every rank computes the same), so the channel part is the largest
 * rank's sum, not the sum over ranks. Lambda bills invocations: the ranks of
 * one function (ranksPerFunction) count its billed time and request once.
 */
export function jobCost(ranks: readonly RankOutcome[], config: FmiConfig | undefined): JobCost {
  const price = config?.model.FaaS?.gib_second_price ?? DEFAULT_CONFIG.model.FaaS!.gib_second_price;
  let gbs = 0;
  let ran = 0;
  let estimated = 0;
  let channelUsd = 0;
  const billedFunctions = new Set<number>();
  for (const r of ranks) {
    if (r.status === 'not started') continue;
    const fn = r.function ?? r.rank;
    if (!billedFunctions.has(fn)) {
      billedFunctions.add(fn);
      ran++;
      const billed = r.billedMs ?? (r.stats ? Math.ceil(r.stats.durationMs) : 0);
      if (r.billedMs === undefined || r.billedEstimated) estimated++;
      gbs += (billed / 1000) * ((r.memoryMiB ?? r.stats?.memoryMiB ?? 1024) / 1024);
    }
    let mine = 0;
    for (const s of Object.values(r.stats?.ops ?? {})) mine += s.modeledChannelUsd ?? 0;
    channelUsd = Math.max(channelUsd, mine);
  }
  const functionUsd = gbs * price;
  const requestUsd = ran * REQUEST_PRICE_USD;
  return { billedGbSeconds: gbs, functionUsd, requestUsd, channelUsd, totalUsd: functionUsd + requestUsd + channelUsd, estimatedRanks: estimated };
}
