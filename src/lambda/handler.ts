import { randomUUID } from 'node:crypto';
import { init, type InitOptions } from '../comm/init.js';
import type { Communicator } from '../comm/communicator.js';
import { loadConfig } from '../config/index.js';
import { TimeoutError } from '../errors.js';
import { MAX_RESPONSE_BYTES, readPayload, type FunctionResult, type LambdaContext, type LambdaPayload, type RankResult, type RankStats } from './payload.js';
import { fitResponse, memoryMiB, perFunctionMismatch, rankError, rankOf, remaining } from './rank-results.js';
import { claimRanks, claimStore } from './rank-claim.js';
import { checkRanksPerFunction, runFunction, THREAD_RANK, type ThreadRankData } from './thread-ranks.js';

export interface LambdaHandlerOptions {
  /**
   * Fail (FMI_TIMEOUT in the result) this long before Lambda would kill the
   * function: time to close the communicator and return. The payload's
   * `fmi.timeoutMarginMs` wins. @default 1000
   */
  timeoutMarginMs?: number;
  /** More options for `init()` (the payload's fields win). */
  init?: Omit<InitOptions, 'rank' | 'size' | 'job' | 'secret'>;
  /** Largest response, as JSON bytes. @default 6 MiB, Lambda's limit for RequestResponse */
  maxResponseBytes?: number;
  /**
   * Ranks per invocation, each a worker thread of the function, talking over
   * shared memory to each other and over the direct channel (or Redis, S3) to
   * the other functions' ranks. The launcher must say the same
   * (`fmi lambda invoke --ranks-per-function k`). Each thread loads this
   * handler's module again (as the Lambda runtime loads it: `_HANDLER` under
   * LAMBDA_TASK_ROOT, or `module`) and runs `fn` there. @default 1
   */
  ranksPerFunction?: number;
  /** The module that exports this handler, for the threads of `ranksPerFunction` (`import.meta.url`). @default from _HANDLER and LAMBDA_TASK_ROOT */
  module?: string | URL;
}

/** The user's code of one rank: what it returns is the rank's result (it must survive JSON). */
export type RankFunction<I = unknown, R = unknown> = (comm: Communicator, event: LambdaPayload<I>, context: LambdaContext) => Promise<R> | R;

/** A Lambda handler: `(event, context) => Promise<RankResult>` (a FunctionResult with `ranksPerFunction`). */
export type LambdaHandler<R = unknown> = (event: unknown, context: LambdaContext) => Promise<RankResult<R> | FunctionResult<R>>;

/** How long closing may take once the deadline passed (a storage channel's close waits for the others). */
const CLOSE_BOUND_MS = 500;

/**
 * Turns `async (comm, event, context) => result` into a Lambda handler. The
 * payload (see `LambdaPayload`, made by `invokeJob`) says which rank of which
 * job this invocation is; the handler joins the job, runs `fn` and closes the
 * communicator on every path. The function's memory comes from
 * AWS_LAMBDA_FUNCTION_MEMORY_SIZE (the cost model's function price).
 *
 * Deadline: everything (init, `fn`, its operations) must end by the time
 * Lambda has `timeoutMarginMs` left; then the rank's result is FMI_TIMEOUT
 * and its communicator is closed, so its peers fail with FMI_PEER_LOST
 * instead of waiting for a rank Lambda killed.
 *
 * It resolves to `{ rank, ok: true, result, stats }` or `{ rank, ok: false,
 * error: { code, message }, stats }` and never rejects: a rejected handler
 * is a Lambda failure, which an asynchronous invocation would retry (a rank
 * run twice).
 */
export function lambdaHandler<I = unknown, R = unknown>(fn: RankFunction<I, R>, opts: LambdaHandlerOptions = {}): LambdaHandler<R> {
  const k = checkRanksPerFunction(opts.ranksPerFunction);
  const handler: LambdaHandler<R> = (event, context) =>
    k > 1 ? runFunction<R>(event, context, opts, k) : runRank(event, context, opts, (comm, payload) => fn(comm, payload as LambdaPayload<I>, context));
  // What a thread of a several-rank function runs (thread-ranks.ts): one rank, claimed by the function already.
  Object.defineProperty(handler, THREAD_RANK, {
    value: (d: ThreadRankData, context: LambdaContext) =>
      runRank(d.event, context, opts, (comm, payload) => fn(comm, payload as LambdaPayload<I>, context), { claimed: true, share: k }),
  });
  return handler;
}

/** @internal Shared by lambdaHandler and lambdaProgram: `body` runs with the rank's communicator. */
export async function runRank<R>(
  event: unknown,
  context: LambdaContext,
  opts: LambdaHandlerOptions,
  body: (comm: Communicator, payload: LambdaPayload, signal: AbortSignal) => Promise<R> | R,
  thread?: { claimed: boolean; share: number },
): Promise<RankResult<R>> {
  const started = performance.now();
  const stats: RankStats = { memoryMiB: memoryMiB(), durationMs: 0, startedAt: Date.now() };
  let rank = rankOf(event);
  let comm: Communicator | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Aborted at the deadline: what `body` started must stop (lambdaProgram ends the C program with it).
  const stop = new AbortController();
  let out: RankResult<R>;
  try {
    const payload = readPayload(event);
    const f = payload.fmi;
    rank = f.rank;
    if ((f.ranksPerFunction ?? 1) !== 1) throw perFunctionMismatch(f.ranksPerFunction!, 1);
    const margin = f.timeoutMarginMs ?? opts.timeoutMarginMs ?? 1000;
    const leftMs = remaining(context) - margin;
    const timedOut = () => new TimeoutError(`the function had ${margin} ms left before its Lambda timeout`, { rank, op: 'lambda' });
    if (leftMs <= 0) throw timedOut();
    // Without a Lambda context (a plain call) there is no deadline.
    const deadline = new Promise<never>((_, reject) => {
      if (leftMs === Infinity) return;
      timer = setTimeout(() => {
        stop.abort(timedOut());
        reject(stop.signal.reason);
      }, Math.min(leftMs, 2 ** 31 - 1));
    });
    const work = (async () => {
      // Without a rendezvous server nothing else stops a second start of this rank: claim it in the job's store first.
      const config = f.config === undefined ? undefined : loadConfig(f.config);
      const store = f.rendezvous === undefined ? claimStore(config, f.channel) : undefined;
      const joinMs = Math.min(f.connectTimeoutMs ?? opts.init?.connectTimeoutMs ?? 30_000, leftMs);
      if (store && !thread?.claimed) await claimRanks(f.job, [f.rank], config!, store, context?.awsRequestId ?? randomUUID(), joinMs);
      const c = await init({
        ...opts.init,
        rank: f.rank,
        size: f.size,
        job: f.job,
        secret: f.secret,
        ...(f.rendezvous !== undefined && { rendezvous: f.rendezvous }),
        ...(config !== undefined && { config }),
        ...(f.channel !== undefined && { channel: f.channel }),
        ...(f.hint !== undefined && { hint: f.hint }),
        // The cost model prices a rank: the function's memory is its ranks' together.
        memoryMiB: stats.memoryMiB / (thread?.share ?? 1),
        // No per-operation timer: the deadline closes the communicator, which fails what is pending.
        connectTimeoutMs: joinMs,
      });
      if (stop.signal.aborted) {
        // The deadline passed while it joined: leave at once.
        await c.close().catch(() => {});
        throw stop.signal.reason;
      }
      comm = c;
      stats.initMs = Math.round(performance.now() - started);
      return body(c, payload, stop.signal);
    })();
    work.catch(() => {});
    const result = await Promise.race([work, deadline]);
    out = { rank, ok: true, result };
  } catch (err) {
    out = { rank, ok: false, error: rankError(err) };
  } finally {
    clearTimeout(timer);
  }
  if (comm) {
    const c: Communicator = comm;
    stats.ops = c.stats();
    // After the deadline, closing is bounded: the rank must answer before Lambda kills it.
    const closing = c.close().catch(() => {});
    if (stop.signal.aborted) await Promise.race([closing, new Promise((r) => setTimeout(r, CLOSE_BOUND_MS).unref())]);
    else await closing;
  }
  stats.durationMs = Math.round(performance.now() - started);
  return fitResponse({ ...out, stats }, opts.maxResponseBytes ?? MAX_RESPONSE_BYTES);
}
