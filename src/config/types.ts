/**
 * FMI's configuration file, as the reference implementation reads it
 * (`backends` + `model`), plus our additions (`backends.Redis.url`,
 * `backends.S3.endpoint`). Field names and units are the reference's, so one
 * file configures both: times in milliseconds, bandwidths in MB/s
 * (1 MB = 10^6 bytes), prices in USD. `src/model/params.ts` converts to
 * seconds and bytes per second.
 */

/** The three channels, by the names the model and the policy use. */
export type ChannelName = 'direct' | 'redis' | 's3';

/** Section names in the config file, per channel. */
export const BACKEND_OF: Readonly<Record<ChannelName, 'Direct' | 'Redis' | 'S3'>> = {
  direct: 'Direct',
  redis: 'Redis',
  s3: 'S3',
};

export interface S3Backend {
  enabled: boolean;
  /** The user's bucket; a missing bucket is an error at connect time, never created. */
  bucket_name: string;
  /** The bucket's region; when absent, the AWS chain's (AWS_REGION, profile). */
  s3_region?: string;
  /** The reference's polling interval in ms (it sleeps this long between polls). */
  timeout?: number;
  /** Give up waiting after this many ms. */
  max_timeout?: number;
  /** Ours: an S3-compatible endpoint (`http(s)://host:port`), addressed path-style. */
  endpoint?: string;
}

export interface RedisBackend {
  enabled: boolean;
  host?: string;
  port?: number;
  /** Ours: `redis://` or `rediss://` URL; when set, `host` and `port` are ignored. */
  url?: string;
  /** The reference's polling interval in ms. */
  timeout?: number;
  max_timeout?: number;
}

export interface DirectBackend {
  enabled: boolean;
  /** The rendezvous server (the reference's TCPunch server). `fmi run` starts its own. */
  host?: string;
  port?: number;
  max_timeout?: number;
}

export interface Backends {
  S3?: S3Backend;
  Redis?: RedisBackend;
  Direct?: DirectBackend;
}

export interface FaasModel {
  /** USD per GiB-second of function time (AWS Lambda's price is the reference's default). */
  gib_second_price: number;
  /**
   * ms per MiB (2^20 bytes) of memory a function allocates and touches for
   * the first time (a result without `into`): page faults and zeroing. Not
   * in the reference; 0 unless calibrated.
   */
  fresh_memory: number;
  /**
   * ms per new result of at least 64 KiB (UNFILLED_MIN_BYTES), beside
   * fresh_memory's per MiB: what a call's new array costs whatever its size
   * (the allocation, the memory's first touch, the collector). Not in the
   * reference; 0 unless calibrated.
   */
  fresh_overhead: number;
}

export interface S3Model {
  /** MB/s of one point-to-point message (10^6 bytes per second). */
  bandwidth: number;
  /** ms of one point-to-point message of zero bytes (a write and a read). */
  overhead: number;
  /**
   * ms one rank (or the server) spends per message beyond the first when it
   * handles several back to back (a tree's root receiving from its children,
   * Redis serving several readers): CPU, not wire. Not in the reference; 0
   * unless calibrated.
   */
  gap: number;
  /**
   * ms of one point-to-point message of zero bytes while every rank of the
   * job makes requests at once (the service and the machine shared). Not in
   * the reference; 0: the same as `overhead` (not calibrated).
   */
  overhead_multiple: number;
  /** USD per GB (10^9 bytes) moved. */
  transfer_price: number;
  /** USD per GET request (every poll is one). */
  download_price: number;
  /** USD per PUT request. */
  upload_price: number;
}

export interface RedisModel {
  /** MB/s of one point-to-point message when it has the server to itself. */
  bandwidth_single: number;
  /** MB/s the server moves in total when many clients transfer at once. */
  bandwidth_multiple: number;
  /** ms of one point-to-point message of zero bytes. */
  overhead: number;
  /**
   * ms one rank (or the server) spends per message beyond the first when it
   * handles several back to back (a tree's root receiving from its children,
   * Redis serving several readers): CPU, not wire. Not in the reference; 0
   * unless calibrated.
   */
  gap: number;
  /**
   * ms of one point-to-point message of zero bytes while every rank of the
   * job makes requests at once. Not in the reference; 0: the same as
   * `overhead` (not calibrated).
   */
  overhead_multiple: number;
  /**
   * ms from the root's call until the last other rank has read a small
   * value the root wrote for all of them, just after a barrier (the bcast's
   * write and reads, timed as a bcast is). Not in the reference; 0: a write
   * at `overhead` / 2 and the reads at `overhead_multiple` / 2 (not
   * calibrated).
   */
  fanout_overhead: number;
  /**
   * ms and MB/s of a fan-in: every other rank sending rank 0 a message of
   * the same size at once, right after a barrier, until rank 0 has them all
   * (the reduce, gather, allreduce and barrier's first phase):
   * `fanin_overhead + bytes / fanin_bandwidth`, bytes per sender. Not in the
   * reference; fanin_bandwidth 0: the senders' writes, then rank 0's reads
   * one after another (not calibrated).
   */
  fanin_overhead: number;
  fanin_bandwidth: number;
  /** USD per GB moved. */
  transfer_price: number;
  /** USD per hour of the Redis instance. */
  instance_price: number;
  /** Requests per hour that share the instance's hourly price. */
  requests_per_hour: number;
  include_infrastructure_costs: boolean;
}

/** The timing of a channel between ranks: what `fmi calibrate` measures for direct and shm. */
export interface LinkModel {
  /** MB/s of one point-to-point message. */
  bandwidth: number;
  /** ms of one point-to-point message of zero bytes. */
  overhead: number;
  /**
   * ms one rank (or the server) spends per message beyond the first when it
   * handles several back to back (a tree's root receiving from its children,
   * Redis serving several readers): CPU, not wire. Not in the reference; 0
   * unless calibrated.
   */
  gap: number;
  /**
   * ms and MB/s of one round of pairwise exchange, every rank sending one
   * message and receiving one at once (recursive doubling, Rabenseifner,
   * the ring, dissemination, scan): `exchange_overhead + bytes /
   * exchange_bandwidth`. Not in the reference; 0: not calibrated, a round
   * is then overhead + gap + bytes / bandwidth.
   */
  exchange_overhead: number;
  exchange_bandwidth: number;
  /**
   * ms of one hop of a tree inside a collective, every rank of the job in
   * it (a woken rank waiting for a core when ranks outnumber cores, the
   * collective call's own cost: encoding, folding, a result): what makes
   * the model's small allreduce (the k-nomial tree) take the measured one.
   * Not in the reference; 0: `overhead` (not calibrated).
   */
  collective_overhead: number;
  /**
   * ms of one hop of the barrier's tree: a collective with no payload, no
   * fold and no result, cheaper per hop than one that carries data. What
   * makes the model's barrier take the measured barrier. Not in the
   * reference; 0: `collective_overhead` (not calibrated).
   */
  barrier_overhead: number;
  /**
   * ms from the root's call until the last of the other ranks has a small
   * message the root sent to all of them at once, just after a barrier (the
   * star bcast's one step, timed as a bcast is: from the later of the
   * rank's and the root's call). Not in the reference; 0: the hop inside a
   * collective (not calibrated).
   */
  fanout_overhead: number;
}

export interface DirectModel extends LinkModel {
  /** USD per GB, charged at both ends of a message (as the reference does). */
  transfer_price: number;
  /** USD per hour of the rendezvous VM. */
  vm_price: number;
  /** Messages per hour that share the VM's hourly price. */
  requests_per_hour: number;
  include_infrastructure_costs: boolean;
}

/**
 * Ours: ranks that are threads of one process (`fmi run --threads`) talk
 * through shared memory, the `shm` channel, which stands in for direct
 * between them. No backend and no price of its own (the memory is the
 * function's); `fmi calibrate --threads` measures its timing.
 */
export type ShmModel = LinkModel;

export interface Model {
  FaaS: FaasModel;
  S3: S3Model;
  Redis: RedisModel;
  Direct: DirectModel;
  Shm: ShmModel;
}

/** A validated configuration: every model section is present (defaults filled in). */
export interface FmiConfig {
  backends: Backends;
  model: Model;
}
