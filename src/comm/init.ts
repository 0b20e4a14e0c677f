import { randomUUID } from 'node:crypto';
import { FmiError } from '../errors.js';
import { DirectChannel } from '../channels/direct/direct-channel.js';
import { parseEndpoint, type Endpoint } from '../rendezvous/protocol.js';
import { Communicator } from './communicator.js';

/** The environment `fmi run` (or a FaaS wrapper) sets for each rank. */
export const ENV = {
  rank: 'FMI_RANK',
  size: 'FMI_SIZE',
  job: 'FMI_JOB',
  rendezvous: 'FMI_RENDEZVOUS',
  timeoutMs: 'FMI_TIMEOUT_MS',
  connectTimeoutMs: 'FMI_CONNECT_TIMEOUT_MS',
} as const;

export interface InitOptions {
  /** @default process.env.FMI_RANK, or 0 when no size is set */
  rank?: number;
  /** @default process.env.FMI_SIZE, or 1 */
  size?: number;
  /** @default process.env.FMI_JOB, or a new id for a single rank */
  job?: string;
  /** Rendezvous server "host:port". @default process.env.FMI_RENDEZVOUS */
  rendezvous?: string | Endpoint;
  /** Default timeout of every operation. @default process.env.FMI_TIMEOUT_MS, or none */
  timeoutMs?: number;
  /** Give up connecting to a peer after this long. @default process.env.FMI_CONNECT_TIMEOUT_MS, or 30000 */
  connectTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Joins the job: reads rank, size and job from the options or the environment
 * `fmi run` sets, registers at the rendezvous server and returns the world
 * communicator. Without any of them, this process is a job of one rank.
 */
export async function init(opts: InitOptions = {}): Promise<Communicator> {
  const env = opts.env ?? process.env;
  const size = opts.size ?? intFrom(env, ENV.size) ?? 1;
  const rank = opts.rank ?? intFrom(env, ENV.rank) ?? 0;
  if (!Number.isInteger(size) || size < 1) throw new FmiError('FMI_CONFIG', `size must be a positive integer, got ${size}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= size) throw new FmiError('FMI_CONFIG', `rank must be in [0, ${size}), got ${rank}`, { rank });
  const job = opts.job ?? env[ENV.job] ?? (size === 1 ? randomUUID() : undefined);
  if (!job) throw new FmiError('FMI_CONFIG', `no job id: set ${ENV.job} or start the ranks with \`fmi run -n N\``, { rank });
  const rv = opts.rendezvous ?? env[ENV.rendezvous];
  if (!rv && size > 1) {
    throw new FmiError('FMI_CONFIG', `no rendezvous server: set ${ENV.rendezvous}=host:port or start the ranks with \`fmi run -n N\``, { rank });
  }
  let server: Endpoint | undefined;
  try {
    server = rv === undefined ? undefined : typeof rv === 'string' ? parseEndpoint(rv) : rv;
  } catch (cause) {
    throw new FmiError('FMI_CONFIG', `bad ${ENV.rendezvous}: ${(cause as Error).message}`, { rank, cause });
  }
  const channel = await DirectChannel.create({
    job,
    rank,
    size,
    server,
    connectTimeoutMs: opts.connectTimeoutMs ?? intFrom(env, ENV.connectTimeoutMs) ?? 30_000,
  });
  return new Communicator(channel, { job, timeoutMs: opts.timeoutMs ?? intFrom(env, ENV.timeoutMs) });
}

function intFrom(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new FmiError('FMI_CONFIG', `${name}=${JSON.stringify(v)} is not a number`);
  return n;
}
