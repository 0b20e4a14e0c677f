import { FmiError } from '../errors.js';
import type { ChannelName, FmiConfig } from '../config/types.js';
import type { Hint } from '../model/types.js';
import type { OpStats } from '../comm/options.js';

/**
 * What `invokeJob` (or any launcher) sends each invocation: where the rank
 * belongs under `fmi`, the user's own data under `input`. Every rank of a job
 * gets the same payload but `fmi.rank`.
 */
export interface LambdaPayload<I = unknown> {
  fmi: FmiPayload;
  /** The user's input, the same for every rank; `event.input` in the handler. */
  input?: I;
}

export interface FmiPayload {
  rank: number;
  size: number;
  /** The job id (a UUID from `invokeJob`). */
  job: string;
  /** The rendezvous server, "host:port"; needed when the direct channel is used by more than one rank. */
  rendezvous?: string;
  /** The job secret. The payload travels over TLS to Lambda and is not logged by it; never put it in `input`. */
  secret?: string;
  /** FMI's config JSON (parsed): the channels to open and the cost model. @default the direct channel alone */
  config?: FmiConfig;
  /** Use only this channel. */
  channel?: ChannelName;
  /** @default 'fast' */
  hint?: Hint;
  /** Fail this long before Lambda would kill the function. @default the handler's option, or 1000 */
  timeoutMarginMs?: number;
  /** Give up connecting to a peer after this long (capped by the time left). @default 30000 */
  connectTimeoutMs?: number;
  /**
   * This invocation runs ranks `rank` .. `rank + ranksPerFunction - 1`, as
   * worker threads (a handler made with the same `ranksPerFunction`). @default 1
   */
  ranksPerFunction?: number;
}

/** The part of Lambda's context object the handler uses. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
  functionName?: string;
  memoryLimitInMB?: string | number;
  callbackWaitsForEmptyEventLoop?: boolean;
}

/** An error as a rank's result carries it. */
export interface RankError {
  /** An FmiError's code (`FMI_TIMEOUT`, `FMI_PEER_LOST`...), `FMI_BAD_PAYLOAD`, `FMI_RESULT_TOO_LARGE`, or the thrown error's name. */
  code: string;
  message: string;
}

/** What the handler returns: never a thrown error, so Lambda never retries a rank. */
export type RankResult<R = unknown> =
  | { rank: number; ok: true; result: R; stats?: RankStats }
  /** `result`, when there is one, is what the rank had (lambdaProgram: the output of a program that exited non-zero). */
  | { rank: number; ok: false; error: RankError; result?: R; stats?: RankStats };

/**
 * What a function of several ranks (`ranksPerFunction` > 1) answers: every
 * rank's result, and the function's own stats (its memory and duration,
 * which Lambda bills once for all its ranks).
 */
export interface FunctionResult<R = unknown> {
  /** The function's first rank. */
  rank: number;
  /** Whether every rank's result is ok. */
  ok: boolean;
  ranks: RankResult<R>[];
  stats: RankStats;
}

/** Beside the result, for the launcher's cost: the function's memory and what the rank's communicator did. */
export interface RankStats {
  memoryMiB: number;
  /** Wall time of the handler, ms. */
  durationMs: number;
  /** When the handler started (epoch ms, the function's clock). */
  startedAt: number;
  /** How long init() took: rendezvous registration and the channels' set-up, ms. */
  initMs?: number;
  /** `comm.stats()` at the end (absent if init failed). */
  ops?: Record<string, OpStats>;
}

const FIELDS = new Set(['rank', 'size', 'job', 'rendezvous', 'secret', 'config', 'channel', 'hint', 'timeoutMarginMs', 'connectTimeoutMs', 'ranksPerFunction']);

/** The payload's `fmi` part, checked: an FmiError (FMI_CONFIG) says what is wrong. */
export function readPayload(event: unknown): LambdaPayload {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) throw bad('the event is not an object: invoke it with fmi lambda invoke (or invokeJob)');
  const f = (event as { fmi?: unknown }).fmi;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad('the event has no "fmi" object: invoke it with fmi lambda invoke (or invokeJob)');
  const o = f as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) throw bad(`fmi.${k} is not a payload field`);
  const int = (k: string, min: number) => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw bad(`fmi.${k} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const str = (k: string) => {
    const v = o[k];
    if (v !== undefined && typeof v !== 'string') throw bad(`fmi.${k} must be a string`);
    return v as string | undefined;
  };
  const size = int('size', 1);
  const rank = int('rank', 0);
  if (rank >= size) throw bad(`fmi.rank ${rank} is not below fmi.size ${size}`);
  const job = str('job');
  if (!job) throw bad('fmi.job is missing');
  for (const k of ['timeoutMarginMs', 'connectTimeoutMs']) if (o[k] !== undefined) int(k, 0);
  if (o.ranksPerFunction !== undefined && rank + int('ranksPerFunction', 1) > size) {
    throw bad(`fmi.rank ${rank} + fmi.ranksPerFunction ${String(o.ranksPerFunction)} is beyond fmi.size ${size}`);
  }
  if (o.config !== undefined && (typeof o.config !== 'object' || o.config === null)) throw bad('fmi.config must be an object (the parsed config JSON)');
  str('rendezvous');
  str('secret');
  str('channel');
  str('hint');
  return event as LambdaPayload;
}

function bad(message: string): FmiError {
  return new FmiError('FMI_CONFIG', `bad Lambda payload: ${message}`);
}

/** Lambda's limit on a RequestResponse invocation's response: 6 MB. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
