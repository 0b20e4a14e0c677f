import { FmiError } from '../errors.js';
import type { IntegrityMode } from '../channels/direct/integrity.js';
import { isStoreChannel, type Channel } from '../channels/channel.js';
import { DirectChannel } from '../channels/direct/direct-channel.js';
import { RedisChannel } from '../channels/redis/index.js';
import { S3Channel } from '../channels/s3/index.js';
import { HybridChannel } from '../channels/shm/hybrid-channel.js';
import { allThreads } from '../channels/shm/block.js';
import type { ShmRegion } from '../channels/shm/region.js';
import { ShmChannel } from '../channels/shm/shm-channel.js';
import { Matcher } from '../channels/matcher.js';
import { NodeArena } from '../collectives/node-arena.js';
import type { ChannelName, FmiConfig } from '../config/types.js';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { Policy } from '../model/index.js';
import type { Estimate, Hint, ModelChannel, ModelOptions, OpName } from '../model/types.js';
import type { ServerAddress } from '../rendezvous/transport.js';

export interface OpenChannelsOptions {
  job: string;
  rank: number;
  size: number;
  /** Which backends exist and what they cost. Without one, only the direct channel. */
  config?: FmiConfig;
  /** Use this channel for everything. */
  channel?: ChannelName;
  rendezvous?: ServerAddress;
  /** The job's secret, for the direct channel (Redis and S3 use their servers' own credentials). */
  secret?: string;
  /** Payload checks on every channel (channels/direct/integrity.ts). */
  integrity?: IntegrityMode;
  connectTimeoutMs?: number;
  hint?: Hint;
  /** The function's memory, for the cost model. @default 1024 */
  memoryMiB?: number;
  /** Shared memory with the ranks of this process (worker threads): they talk through it instead of direct. */
  shm?: ShmRegion;
  /** The node arena of this process's thread ranks (collectives/node-memory.ts), with `shm`. */
  node?: WebAssembly.Memory;
  /** The shm channel's opt-in spin before a receive waits (FMI_SHM_SPIN_US). @default 0 */
  shmSpinUs?: number;
  /** How long the shm channel's waits block their thread before the event loop takes over (FMI_SHM_BLOCK_US). @default 5000 where every rank is a thread of this process, else 0 (ShmChannelOptions.blockUs) */
  shmBlockUs?: number;
  /** The shm channel lends large payloads of shared arrays (FMI_SHM_LEND=1; ShmChannelOptions.lend). @default false */
  shmLend?: boolean;
  /** The direct channel's opt-in polling while a receive waits (FMI_DIRECT_POLL_US). @default 0 */
  directPollUs?: number;
}

/**
 * The channels one rank has open, and the policy that picks among them per
 * operation. Every rank of a job builds the same set from the same config,
 * so every rank makes the same choice for the same operation and size.
 */
export class ChannelSet {
  readonly policy: Policy;
  readonly #channels: Map<ModelChannel, Channel>;
  /** Point-to-point traffic, and collectives whose size only some ranks know. */
  readonly defaultChannel: Channel;
  /** Thread ranks: their process's node arena, for the world's collectives (collectives/two-level.ts). */
  node: NodeArena | undefined;

  constructor(channels: Map<ModelChannel, Channel>, config: FmiConfig, size: number, hint: Hint = 'fast', memoryMiB?: number, ranksPerProcess?: number) {
    if (channels.size === 0) throw new FmiError('FMI_CONFIG', 'no channel is open');
    this.#channels = channels;
    this.policy = new Policy(config, { ranks: size, channels: [...channels.keys()], hint, memoryMiB, ranksPerProcess });
    // Small messages decide the default channel: what most point-to-point traffic is.
    const name = channels.size === 1 ? [...channels.keys()][0]! : this.policy.choose('send', 1024).channel;
    this.defaultChannel = channels.get(name)!;
  }

  /** One channel on its own (tests, a forced channel). */
  static of(channel: Channel): ChannelSet {
    return new ChannelSet(new Map([[channel.name as ModelChannel, channel]]), DEFAULT_CONFIG, channel.size);
  }

  /** Whether a storage channel (Redis, S3) is open. */
  get hasStore(): boolean {
    return [...this.#channels.values()].some(isStoreChannel);
  }

  /** Whether only one channel is open: every operation takes the default one. */
  get single(): boolean {
    return this.#channels.size === 1;
  }

  get names(): ModelChannel[] {
    return [...this.#channels.keys()];
  }

  /**
   * The channel for `op` moving `bytes` per rank under the current hint; the
   * default when the size is not known everywhere. `model`: how the operation
   * would run (say, the ring for a large allreduce on direct).
   */
  choose(op: OpName | undefined, bytes: number | undefined, model?: ModelOptions): Channel {
    if (this.#channels.size === 1 || op === undefined || bytes === undefined) return this.defaultChannel;
    return this.#channels.get(this.policy.choose(op, bytes, undefined, model).channel)!;
  }

  /** The model's estimate for what was done, for stats. */
  estimate(channel: Channel, op: OpName, bytes: number, options?: ModelOptions): Estimate | undefined {
    try {
      return this.policy.estimate(channel.name as ModelChannel, op, bytes, options);
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.node?.close();
    await Promise.all([...this.#channels.values()].map((c) => c.close()));
  }
}

/** Opens the channels `o` asks for: the config's enabled backends, or the one forced. */
export async function openChannels(o: OpenChannelsOptions): Promise<ChannelSet> {
  const config = o.config;
  const names: ChannelName[] = o.channel ? [o.channel] : config ? enabledNames(config) : ['direct'];
  const opened = new Map<ModelChannel, Channel>();
  try {
    // A job wholly in this process gets shm where direct was asked for: the model prices it under its own name.
    for (const name of names) {
      const channel = await openOne(name, o);
      opened.set(channel.name === 'shm' ? 'shm' : name, channel);
    }
  } catch (err) {
    await Promise.all([...opened.values()].map((c) => c.close().catch(() => {})));
    throw err;
  }
  // Thread ranks of several processes: the model prices direct's collectives at two levels.
  const set = new ChannelSet(opened, config ?? DEFAULT_CONFIG, o.size, o.hint, o.memoryMiB, o.node && o.shm ? o.shm.ranks.length : undefined);
  const carrier = opened.get('shm') ?? opened.get('direct');
  if (o.node && o.shm && carrier) set.node = new NodeArena(o.node, o.shm, o.rank, o.size, carrier);
  return set;
}

function enabledNames(config: FmiConfig): ChannelName[] {
  const b = config.backends;
  const out: ChannelName[] = [];
  if (b.Direct?.enabled) out.push('direct');
  if (b.Redis?.enabled) out.push('redis');
  if (b.S3?.enabled) out.push('s3');
  return out;
}

async function openOne(name: ChannelName, o: OpenChannelsOptions): Promise<Channel> {
  const { job, rank, size } = o;
  const b = o.config?.backends;
  switch (name) {
    case 'direct': {
      // Ranks in this process: shared memory; a job wholly in this process needs no TCP at all.
      // A mixed job: one matcher for both channels (HybridChannel), so wildcard receives keep MPI's order across them.
      const matcher = o.shm && !allThreads(o.shm, size) ? new Matcher(rank, 'direct') : undefined;
      const shm = o.shm && (await ShmChannel.create({ job, rank, size, region: o.shm, node: o.node, spinUs: o.shmSpinUs, blockUs: o.shmBlockUs, lend: o.shmLend, matcher }));
      if (shm && allThreads(o.shm!, size)) return shm;
      const server = o.rendezvous ?? (b?.Direct?.host && b.Direct.port ? { host: b.Direct.host, port: b.Direct.port } : undefined);
      let direct: Channel;
      try {
        direct = await DirectChannel.create({ job, rank, size, server, secret: o.secret, integrity: o.integrity, connectTimeoutMs: o.connectTimeoutMs ?? 30_000, matcher, carriedElsewhere: matcher && o.shm!.ranks, pollUs: o.directPollUs });
      } catch (err) {
        await shm?.close();
        throw err;
      }
      return shm ? new HybridChannel(shm, direct) : direct;
    }
    case 'redis': {
      const r = b?.Redis;
      if (!r) throw new FmiError('FMI_CONFIG', 'the redis channel needs backends.Redis (url, or host and port) in the config', { rank });
      return RedisChannel.create({ job, rank, size, url: r.url, host: r.host, port: r.port, aliveMs: aliveMs(), reconnectMs: envMs('FMI_REDIS_RECONNECT_MS'), integrity: o.integrity, secret: o.secret });
    }
    case 's3': {
      const s = b?.S3;
      if (!s?.bucket_name) throw new FmiError('FMI_CONFIG', 'the s3 channel needs backends.S3.bucket_name in the config', { rank });
      return S3Channel.create({ job, rank, size, bucket: s.bucket_name, endpoint: s.endpoint, region: s.s3_region, aliveMs: aliveMs(), integrity: o.integrity, secret: o.secret });
    }
  }
}

/** FMI_ALIVE_MS: the storage channels' heartbeat setting (Redis: key lifetime; S3: PUT period; 0: off). Unset: each channel's default. */
function aliveMs(): number | undefined {
  return envMs('FMI_ALIVE_MS');
}

/** A whole number of ms from the environment (FMI_ALIVE_MS, FMI_REDIS_RECONNECT_MS; 0: off); unset: undefined, the channel's default. */
function envMs(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new FmiError('FMI_CONFIG', `${name} must be a whole number of ms (0: off), not ${JSON.stringify(v)}`);
  return n;
}
