import type { ChannelName } from '../config/types.js';

export type { ChannelName };

/** Operations the model knows. `send` and `recv` are one point-to-point message. */
export type OpName = 'send' | 'recv' | 'bcast' | 'barrier' | 'gather' | 'scatter' | 'reduce' | 'allreduce' | 'scan';

export const OPS: readonly OpName[] = ['send', 'recv', 'bcast', 'barrier', 'gather', 'scatter', 'reduce', 'allreduce', 'scan'];
/** The config's channels: a backend each. */
export const CHANNELS: readonly ChannelName[] = ['direct', 'redis', 's3'];

/**
 * What the model prices: the config's channels, and `shm`, which ranks that
 * are threads of one process use instead of direct (the same algorithms over
 * shared memory, Shm's overhead, bandwidth and gap, no infrastructure).
 */
export type ModelChannel = ChannelName | 'shm';
/** Every channel the model prices, in the order that breaks ties. */
export const MODEL_CHANNELS: readonly ModelChannel[] = ['shm', 'direct', 'redis', 's3'];

/**
 * The direct channel's allreduce algorithm, as the communicator names it
 * (allreduce-choice.ts); 'auto' is what it takes for a TypedArray with a
 * predefined op (allreduceBySize). 'recursive-doubling' is that branch of
 * the communicator, which runs the k-nomial tree on small buffers over
 * more than 2 ranks (allreduceTakesTree).
 */
export type DirectAllreduce = 'auto' | 'recursive-doubling' | 'rabenseifner' | 'ring';

/** What the policy minimises: modeled time, or modeled cost. */
export type Hint = 'fast' | 'cheap';

/** S3 readers poll with this backoff: the first poll at once, then sleeps growing by `factor` up to `maxMs`. */
export interface Backoff {
  initialMs: number;
  factor: number;
  maxMs: number;
}

export interface ModelOptions {
  /** Memory of each function, MiB: what its GiB-seconds are billed on. @default 1024 */
  memoryMiB?: number;
  /**
   * How often the job performs this operation, per hour. When given, the
   * job is taken to be the only user of the Redis instance and of the
   * rendezvous VM: their hourly price is split among the requests these
   * operations make, so a rare operation carries a large share and a
   * frequent one almost none. Without it, every request carries
   * `instance_price / requests_per_hour` (or `vm_price / ...`) as in the
   * reference. @default undefined
   */
  opsPerHour?: number;
  /** The S3 channel's polling backoff. @default S3_BACKOFF (5 ms, x1.5, at most 200 ms) */
  backoff?: Backoff;
  /**
   * Which algorithm the direct channel's allreduce uses. A communicator says
   * which it runs; 'auto' prices what it runs for a TypedArray with a
   * predefined op, for callers that price an allreduce without running one.
   * @default 'auto'
   */
  directAllreduce?: DirectAllreduce;
  /**
   * Ranks per process of a job of thread ranks (`fmi run --threads K`): the
   * direct channel's barrier, bcast, reduce and allreduce are then two-level
   * (the node arena in each process, the direct algorithms among one leader
   * per process; model/node.ts). @default 1
   */
  ranksPerProcess?: number;
  /**
   * The result lands in the caller's memory (`into`): no fresh memory to
   * pay for (FaaS.fresh_memory). @default false
   */
  into?: boolean;
}

/** Requests an operation makes, summed over all ranks. */
export interface RequestCounts {
  /** Direct: point-to-point messages. */
  messages: number;
  /** Storage: writes (Redis pushes, S3 PUTs). */
  puts: number;
  /** Storage: reads that return data. */
  gets: number;
  /** S3: reads that found nothing yet (each a billed GET). */
  polls: number;
}

/** Where the money goes, USD. */
export interface CostBreakdown {
  /** S3 request prices (PUTs, GETs and polls). */
  requests: number;
  /** The share of the Redis instance's or rendezvous VM's hourly price. */
  infrastructure: number;
  /** Transfer prices per GB. */
  transfer: number;
  /** Every rank's function, billed per GiB-second while the operation runs. */
  functions: number;
}

/** The model's prediction for one operation on one channel. */
export interface Estimate {
  channel: ModelChannel;
  op: OpName;
  /** Bytes per rank: the message (send, bcast), each rank's part (gather, scatter) or buffer (reductions). */
  bytes: number;
  ranks: number;
  memoryMiB: number;
  /** Modeled completion time of the operation, seconds. */
  time_s: number;
  /** Modeled cost of the operation, USD: the sum of `cost`. */
  cost_usd: number;
  cost: CostBreakdown;
  requests: RequestCounts;
  /** Payload bytes that cross the network, summed over every transfer. */
  bytes_moved: number;
}

export interface Choice {
  channel: ModelChannel;
  hint: Hint;
  time_s: number;
  cost_usd: number;
  /** Every candidate's estimate, best first for the hint (the chosen one is first). */
  alternatives: Estimate[];
}
