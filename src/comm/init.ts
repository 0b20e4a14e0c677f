import { randomUUID } from 'node:crypto';
import type { IntegrityMode } from '../channels/direct/integrity.js';
import { pollMicros } from '../channels/direct/poll.js';
import { FmiError } from '../errors.js';
import { openChannels } from './channel-set.js';
import { loadConfig } from '../config/index.js';
import type { ChannelName, FmiConfig } from '../config/types.js';
import type { Hint } from '../model/types.js';
import { checkEndpoint } from '../rendezvous/protocol.js';
import { parseServerAddress, readPem, type ServerAddress } from '../rendezvous/transport.js';
import { checkOpOptions } from '../util/deadline.js';
import { Communicator } from './communicator.js';
import { allThreads } from '../channels/shm/block.js';
import type { ShmRegion } from '../channels/shm/region.js';
import { nodeFromWorker, shmFromWorker } from '../channels/shm/worker-data.js';
import { intFrom, noJobHint, schedulerEnv } from './scheduler-env.js';

/** The environment `fmi run` (or a FaaS wrapper) sets for each rank. */
export const ENV = {
  rank: 'FMI_RANK',
  size: 'FMI_SIZE',
  job: 'FMI_JOB',
  rendezvous: 'FMI_RENDEZVOUS',
  rendezvousCa: 'FMI_RENDEZVOUS_CA',
  timeoutMs: 'FMI_TIMEOUT_MS',
  connectTimeoutMs: 'FMI_CONNECT_TIMEOUT_MS',
  config: 'FMI_CONFIG',
  channel: 'FMI_CHANNEL',
  hint: 'FMI_HINT',
  memoryMiB: 'FMI_MEMORY_MIB',
  secret: 'FMI_SECRET',
  shm: 'FMI_SHM',
  shmSpinUs: 'FMI_SHM_SPIN_US',
  shmBlockUs: 'FMI_SHM_BLOCK_US',
  shmLend: 'FMI_SHM_LEND',
  directPollUs: 'FMI_DIRECT_POLL_US',
  integrity: 'FMI_INTEGRITY',
  verdicts: 'FMI_VERDICTS',
} as const;

export interface InitOptions {
  /** @default process.env.FMI_RANK, else a scheduler's (see schedulerEnv), or 0 when no size is set */
  rank?: number;
  /** @default process.env.FMI_SIZE, else a scheduler's, or 1 */
  size?: number;
  /** @default process.env.FMI_JOB, else a scheduler's job id, or a new id for a single rank */
  job?: string;
  /**
   * The job's secret, the same on every rank (at least 16 bytes; `fmi run`
   * makes 256 random bits): ranks prove it to the rendezvous server and to
   * each other, and it never goes on the wire. Pass it in the environment,
   * never on a command line. @default process.env.FMI_SECRET, or none
   */
  secret?: string;
  /** Rendezvous server "host:port", or "tls://host:port" to dial it with TLS. @default process.env.FMI_RENDEZVOUS */
  rendezvous?: string | ServerAddress;
  /**
   * For a tls:// rendezvous server: the CA certificate(s) to check its
   * certificate against (a PEM file's path, or PEM text), instead of the
   * system's roots. @default process.env.FMI_RENDEZVOUS_CA
   */
  rendezvousCa?: string;
  /** Default timeout of every operation. @default process.env.FMI_TIMEOUT_MS, or none */
  timeoutMs?: number;
  /** Give up connecting to a peer after this long (not once introduced to a peer on this host: the server says if it is gone). @default process.env.FMI_CONNECT_TIMEOUT_MS, or 30000 */
  connectTimeoutMs?: number;
  /** FMI's config JSON (a path or the parsed object): the backends to open and the cost model. @default process.env.FMI_CONFIG, or the direct channel alone */
  config?: string | FmiConfig;
  /** Use only this channel. @default process.env.FMI_CHANNEL */
  channel?: ChannelName;
  /** What collectives optimize when choosing a channel. @default process.env.FMI_HINT, or 'fast' */
  hint?: Hint;
  /** The function's memory, for the cost model. @default process.env.FMI_MEMORY_MIB or AWS_LAMBDA_FUNCTION_MEMORY_SIZE, or 1024 */
  memoryMiB?: number;
  /**
   * Shared memory with the other ranks of this process (worker threads).
   * @default what `fmi run --threads` hands this worker, unless FMI_SHM=0
   */
  shm?: ShmRegion;
  /**
   * Rooted collectives (reduce, gather, bcast, scatter and their v forms)
   * end with a verdict: an empty message per tree edge, so that a rank that
   * only sent in the call (a reduce leaf, a bcast root) does not return
   * success from a call that failed or was called differently elsewhere. It
   * costs a tree's depth of latency per call and turns a root's
   * fire-and-forget bcast into a wait (bench/README.md, "Verdicts": about 3x
   * the CPU of an 8 B bcast on 4 ranks), so it is off unless asked for; off,
   * such ranks learn of a mismatch in their next collective, if at all. Every
   * rank must pass the same. @default process.env.FMI_VERDICTS === '1'
   */
  verdicts?: boolean;
  /**
   * Payload checks on the direct channel: 'crc32' (corruption) or 'hmac'
   * (HMAC-SHA-256 under a key from the job secret: corruption and forgery).
   * A payload that fails its check fails its receive with FMI_PROTOCOL and
   * ends that connection; it is never delivered. Every rank must pass the
   * same. @default process.env.FMI_INTEGRITY, or 'none'
   */
  integrity?: IntegrityMode;
  /**
   * While a receive on the direct channel waits, keep the event loop polling
   * instead of sleeping in epoll, for up to this many microseconds: each
   * message then costs no wake-up, but a waiting rank keeps a core busy
   * (bench/README.md, "Polling on the direct channel"). @default process.env.FMI_DIRECT_POLL_US, or 0 (off)
   */
  directPollUs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Joins the job: reads rank, size and job from the options, the environment
 * `fmi run` sets, or a scheduler's (Open MPI's mpirun, MPICH's Hydra, SLURM's
 * srun, a Kubernetes Indexed Job: see schedulerEnv), registers at the
 * rendezvous server and returns the world communicator. Without any of them,
 * this process is a job of one rank.
 */
export async function init(opts: InitOptions = {}): Promise<Communicator> {
  const env = opts.env ?? process.env;
  // Only when the options leave something to find: a caller that passes all three needs no valid environment.
  const sched = opts.size !== undefined && opts.rank !== undefined && opts.job !== undefined ? {} : schedulerEnv(env);
  const size = opts.size ?? sched.size ?? 1;
  const rank = opts.rank ?? sched.rank ?? 0;
  if (!Number.isInteger(size) || size < 1) throw new FmiError('FMI_CONFIG', `size must be a positive integer, got ${size}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new FmiError('FMI_CONFIG', `rank must be in [0, ${size}), got ${rank}`, { rank });
  const job = opts.job ?? sched.job ?? (size === 1 ? randomUUID() : undefined);
  if (!job) throw new FmiError('FMI_CONFIG', `no job id: ${noJobHint(sched.scheduler)}`, { rank });
  const configSource = opts.config ?? env[ENV.config];
  const config = configSource === undefined || configSource === '' ? undefined : loadConfig(configSource);
  const channel = (opts.channel ?? (env[ENV.channel] || undefined)) as ChannelName | undefined;
  if (channel !== undefined && !['direct', 'redis', 's3'].includes(channel)) {
    throw new FmiError('FMI_CONFIG', `channel must be direct, redis or s3, got ${JSON.stringify(channel)}`, { rank });
  }
  const hint = (opts.hint ?? (env[ENV.hint] || 'fast')) as Hint;
  if (hint !== 'fast' && hint !== 'cheap') throw new FmiError('FMI_CONFIG', `hint must be fast or cheap, got ${JSON.stringify(hint)}`, { rank });
  const shm = channel === 'redis' || channel === 's3' ? undefined : (opts.shm ?? (env[ENV.shm] === '0' ? undefined : shmFromWorker(job, rank)));
  const allShared = shm !== undefined && allThreads(shm, size);
  const needsDirect = !allShared && (channel === 'direct' || (channel === undefined && (config === undefined || config.backends.Direct?.enabled)));
  const rv = opts.rendezvous ?? env[ENV.rendezvous] ?? (config?.backends.Direct?.host && config.backends.Direct.port ? `${config.backends.Direct.host}:${config.backends.Direct.port}` : undefined);
  if (!rv && size > 1 && needsDirect) {
    throw new FmiError('FMI_CONFIG', `no rendezvous server: set ${ENV.rendezvous}=host:port or start the ranks with \`fmi run -n N\``, { rank });
  }
  const ca = opts.rendezvousCa ?? (env[ENV.rendezvousCa] || undefined);
  let server: ServerAddress | undefined;
  try {
    if (rv === undefined) server = undefined;
    else if (typeof rv === 'string') server = parseServerAddress(rv, ca);
    else server = { ...checkEndpoint(rv), ...(rv.tls || ca ? { tls: { ca: ca === undefined ? rv.tls?.ca : readPem(ca, 'rendezvous CA') } } : {}) };
  } catch (cause) {
    throw new FmiError('FMI_CONFIG', `bad ${ENV.rendezvous}: ${(cause as Error).message}`, { rank, cause });
  }
  const timeoutMs = opts.timeoutMs ?? intFrom(env, ENV.timeoutMs);
  checkOpOptions({ timeoutMs }, { rank, op: 'init' });
  const channels = await openChannels({
    job,
    rank,
    size,
    config,
    channel,
    hint,
    rendezvous: server,
    secret: opts.secret ?? (env[ENV.secret] || undefined),
    integrity: opts.integrity ?? ((env[ENV.integrity] || undefined) as IntegrityMode | undefined),
    connectTimeoutMs: opts.connectTimeoutMs ?? intFrom(env, ENV.connectTimeoutMs) ?? 30_000,
    memoryMiB: opts.memoryMiB ?? intFrom(env, ENV.memoryMiB) ?? intFrom(env, 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE'),
    shm,
    node: shm !== undefined && opts.shm === undefined ? nodeFromWorker(job, rank) : undefined,
    shmSpinUs: intFrom(env, ENV.shmSpinUs),
    shmBlockUs: intFrom(env, ENV.shmBlockUs),
    shmLend: env[ENV.shmLend] === '1',
    // Checked here, not only where the direct channel opens: a job of thread ranks may never open it.
    directPollUs: pollMicros(opts.directPollUs ?? intFrom(env, ENV.directPollUs) ?? 0, rank),
  });
  return new Communicator(channels, { job, timeoutMs, verdicts: opts.verdicts ?? env[ENV.verdicts] === '1' });
}
