import type { FmiConfig, LinkModel } from '../config/types.js';

/** 1 MB in the reference's bandwidths (MB/s) and 1 GB in its transfer prices (USD/GB): decimal. */
export const MB = 1e6;
export const GB = 1e9;
export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;

/**
 * A channel's point-to-point message, in SI units: `alpha` seconds of
 * latency and `beta` bytes per second. The reference states `overhead` in
 * ms and `bandwidth` in MB/s.
 */
export interface LinkParams {
  alpha: number;
  beta: number;
}

export interface DirectParams extends LinkParams {
  /** Seconds per further message one rank handles back to back. */
  gap: number;
  /** One round of pairwise exchange, every rank at once, when calibrated. */
  exchange?: LinkParams;
  /** Seconds of latency of a tree's hop inside a collective (every rank in it); alpha when not calibrated. */
  alphaColl: number;
  /** Seconds of latency of a hop of the barrier's tree; alphaColl when not calibrated. */
  alphaBarrier: number;
  /** Seconds of the root's one step to every other rank at once after a barrier (the star bcast); alphaColl when not calibrated. */
  alphaFan: number;
  transferPerByte: number;
  /** USD per hour of the rendezvous VM; 0 when infrastructure costs are excluded. */
  vmPricePerHour: number;
  requestsPerHour: number;
}

export interface RedisParams extends LinkParams {
  /** Seconds per further request one rank or the server handles back to back. */
  gap: number;
  /** Bytes per second the server moves in total when many clients transfer at once. */
  betaTotal: number;
  /** `alpha` while every rank makes requests at once. */
  alphaAll: number;
  /** Seconds of the bcast's write and reads of a small value after a barrier, when calibrated. */
  alphaFan?: number;
  /** Every other rank sending rank 0 a message at once after a barrier, until it has them all, when calibrated: seconds and bytes per second (per sender's bytes). */
  fanIn?: LinkParams;
  transferPerByte: number;
  /** USD per hour of the Redis instance; 0 when infrastructure costs are excluded. */
  instancePricePerHour: number;
  requestsPerHour: number;
}

export interface S3Params extends LinkParams {
  /** Seconds per further request one rank handles back to back. */
  gap: number;
  /** `alpha` while every rank makes requests at once. */
  alphaAll: number;
  transferPerByte: number;
  putPrice: number;
  getPrice: number;
}

/** Thread ranks over shared memory: the direct channel's algorithms, nothing to pay for but the functions' time. */
export interface ShmParams extends LinkParams {
  gap: number;
  exchange?: LinkParams;
  alphaColl: number;
  alphaBarrier: number;
  alphaFan: number;
}

export interface ModelParams {
  direct: DirectParams;
  shm: ShmParams;
  redis: RedisParams;
  s3: S3Params;
  /** USD per GiB-second of function time. */
  gibSecondPrice: number;
  /** Seconds per byte of memory allocated and touched for the first time (a result without `into`). */
  freshPerByte: number;
  /** Seconds per new result of at least FRESH_MIN_BYTES, beside freshPerByte. */
  freshPerCall: number;
}

/**
 * Converts the config's model section to seconds, bytes and USD. This is
 * where the reference's unit slip is fixed: it adds `overhead` (ms) to
 * bytes / (bandwidth * 10^6) (s) as if both were one unit; here both become
 * seconds.
 */
export function modelParams(config: FmiConfig): ModelParams {
  const { Direct, Redis, S3, FaaS, Shm } = config.model;
  return {
    direct: {
      ...linkParams(Direct),
      transferPerByte: Direct.transfer_price / GB,
      vmPricePerHour: Direct.include_infrastructure_costs ? Direct.vm_price : 0,
      requestsPerHour: Direct.requests_per_hour,
    },
    shm: linkParams(Shm),
    redis: {
      alpha: Redis.overhead / 1000,
      beta: Redis.bandwidth_single * MB,
      gap: Redis.gap / 1000,
      betaTotal: Redis.bandwidth_multiple * MB,
      alphaAll: (Redis.overhead_multiple || Redis.overhead) / 1000,
      alphaFan: Redis.fanout_overhead ? Redis.fanout_overhead / 1000 : undefined,
      fanIn: Redis.fanin_bandwidth > 0 ? { alpha: Redis.fanin_overhead / 1000, beta: Redis.fanin_bandwidth * MB } : undefined,
      transferPerByte: Redis.transfer_price / GB,
      instancePricePerHour: Redis.include_infrastructure_costs ? Redis.instance_price : 0,
      requestsPerHour: Redis.requests_per_hour,
    },
    s3: {
      alpha: S3.overhead / 1000,
      beta: S3.bandwidth * MB,
      gap: S3.gap / 1000,
      alphaAll: (S3.overhead_multiple || S3.overhead) / 1000,
      transferPerByte: S3.transfer_price / GB,
      putPrice: S3.upload_price,
      getPrice: S3.download_price,
    },
    gibSecondPrice: FaaS.gib_second_price,
    freshPerByte: FaaS.fresh_memory / 1000 / MIB,
    freshPerCall: FaaS.fresh_overhead / 1000,
  };
}

/** Direct's and Shm's timing in seconds: what is not calibrated (0) falls back as the config's fields say. */
function linkParams(m: LinkModel): ShmParams {
  return {
    alpha: m.overhead / 1000,
    beta: m.bandwidth * MB,
    gap: m.gap / 1000,
    exchange: exchangeOf(m),
    alphaColl: (m.collective_overhead || m.overhead) / 1000,
    alphaBarrier: (m.barrier_overhead || m.collective_overhead || m.overhead) / 1000,
    alphaFan: (m.fanout_overhead || m.collective_overhead || m.overhead) / 1000,
  };
}

/** The exchange round's line when both its numbers were calibrated (0: not measured). */
function exchangeOf(m: { exchange_overhead: number; exchange_bandwidth: number }): LinkParams | undefined {
  return m.exchange_bandwidth > 0 ? { alpha: m.exchange_overhead / 1000, beta: m.exchange_bandwidth * MB } : undefined;
}
