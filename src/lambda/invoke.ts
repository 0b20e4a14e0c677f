import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config/index.js';
import type { ChannelName, FmiConfig } from '../config/types.js';
import { FmiError } from '../errors.js';
import type { Hint } from '../model/types.js';
import { newSecret } from '../rendezvous/auth.js';
import { LauncherLink } from '../rendezvous/launcher-link.js';
import { parseEndpoint, type Endpoint } from '../rendezvous/protocol.js';
import { RendezvousServer } from '../rendezvous/server.js';
import { jobCost, type JobCost } from './cost.js';
import { RankRecords } from './rank-records.js';
import { backoff, crashError, errorName, isThrottle, isTransient, parseListen, sleep, Slots, status } from './invoke-calls.js';
import type { FunctionResult, LambdaPayload, RankError, RankResult, RankStats } from './payload.js';
import { callInvoke, openLambda, type InvokeAnswer, type LambdaApi } from './sdk.js';

export interface InvokeJobOptions {
  /** The function's name or ARN (a qualifier as "name:alias"). */
  functionName: string;
  /** How many ranks: one invocation each (or per `ranksPerFunction`). */
  ranks: number;
  /**
   * Ranks per invocation, as worker threads of one function (its handler made
   * with the same `ranksPerFunction`): `ranks / ranksPerFunction` invocations.
   * @default 1
   */
  ranksPerFunction?: number;
  /** Every rank's `event.input`. */
  input?: unknown;
  /** FMI's config (a path or the parsed object), sent to every rank. @default the direct channel alone */
  config?: string | FmiConfig;
  channel?: ChannelName;
  hint?: Hint;
  /**
   * A rendezvous server "host:port" the functions can reach. Without
   * `rendezvousListen`, it is used as it is (`fmi rendezvous` on a host with
   * a public address); with it, it is the address the functions are told for
   * the embedded server (its public address).
   */
  rendezvous?: string;
  /** Run the embedded rendezvous server here, "host:port". @default '127.0.0.1:0' (any port: for a local emulator) */
  rendezvousListen?: string;
  /** AWS region. @default the SDK's (AWS_REGION, the profile) */
  region?: string;
  /** Send the Invoke calls here instead of AWS (LocalStack, an emulator); AWS_ENDPOINT_URL_LAMBDA works too. */
  endpoint?: string;
  /**
   * Most invocations starting at once: an invocation holds its slot until one
   * of its ranks registered at the rendezvous server (or its call ended). @default all invocations
   */
  concurrency?: number;
  /** Retries of a rank that has not started, on throttling and transient errors. */
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** Passed to every rank (`fmi.timeoutMarginMs`). @default the handler's (1000) */
  timeoutMarginMs?: number;
  /** Passed to every rank (`fmi.connectTimeoutMs`). @default 30000 */
  connectTimeoutMs?: number;
  /** Called on every change of the counts. */
  onProgress?: (p: Progress) => void;
  /** More LambdaClient configuration (credentials, a profile...). */
  clientConfig?: Record<string, unknown>;
  /** @default 'fmi-' + a UUID */
  job?: string;
}

export interface Progress {
  ranks: number;
  /** Invocations sent (the first attempt of each rank). */
  invoked: number;
  /** Ranks registered at the rendezvous server: their code runs, init() is under way (known only with a direct channel). */
  joined: number;
  /**
   * Ranks past init() that the rendezvous server has paired with a peer at
   * least once (the direct channel connects a pair on its first message).
   */
  paired: number;
  done: number;
  failed: number;
}

/** How a rank ended: its result `ok`; its result an `error`; `crashed` (Lambda's FunctionError: a timeout, a throw; or its call failed after it started: its result is lost); `not started`. */
export type RankStatus = 'ok' | 'error' | 'crashed' | 'not started';

export interface RankOutcome<R = unknown> {
  rank: number;
  status: RankStatus;
  /** Invoke calls made for this rank. */
  attempts: number;
  /** The successful Invoke call's wall time as the launcher saw it, ms. */
  durationMs?: number;
  /** From the log tail's REPORT line; else the handler's own duration rounded up (and `billedEstimated`). */
  billedMs?: number;
  billedEstimated?: boolean;
  /** The function's memory: from the REPORT line, else the handler's stats. */
  memoryMiB?: number;
  result?: R;
  error?: RankError;
  stats?: RankStats;
  /** Since the job started, ms: first Invoke call sent, rank registered, first paired with a peer, answer received. */
  at: { invoked?: number; joined?: number; paired?: number; done?: number };
  /** The invocation that ran it (rank / ranksPerFunction): its ranks share its billed time and Invoke calls. */
  function: number;
}

export interface JobResult<R = unknown> {
  job: string;
  ok: boolean;
  ranks: RankOutcome<R>[];
  cost: JobCost;
  wallMs: number;
  /** What the launcher could not do for the job (tell its ranks over a store it cannot reach that a rank is gone). */
  warnings: string[];
}

const DEFAULT_RETRY = { attempts: 8, baseDelayMs: 100, maxDelayMs: 5000 };

/**
 * Runs a job of `ranks` invocations of a Lambda function made with
 * `lambdaHandler` (or `lambdaProgram`): makes the job id and secret, runs a
 * rendezvous server (unless `rendezvous` names one), invokes every rank at
 * once (RequestResponse, so the answer is the rank's result), and resolves
 * to each rank's outcome and the job's cost. It never rejects for a rank's
 * failure: `ok` is false then.
 *
 * A throttled invocation (429) is retried with backoff; other transient
 * errors too while the rank has not started: it has not registered at the
 * rendezvous server (direct channel), or has no record in its stores (Redis
 * or S3 alone). An error after the rank started is that rank's failure: its
 * result is lost, and running it again could not bring it back. A rank that
 * cannot be started (retries spent, or a permanent error) or that failed is
 * given up: the rendezvous server tells the ranks that started, and so do
 * records in the job's stores (rank-records.ts); they fail with
 * FMI_PEER_LOST at once. Each rank registers once: a second invocation of a
 * rank is refused.
 */
export async function invokeJob<R = unknown>(o: InvokeJobOptions): Promise<JobResult<R>> {
  const n = o.ranks;
  if (!Number.isInteger(n) || n < 1) throw new FmiError('FMI_CONFIG', `ranks must be a positive integer, got ${n}`);
  if (typeof o.functionName !== 'string' || o.functionName === '') throw new FmiError('FMI_CONFIG', 'functionName is required');
  const k = o.ranksPerFunction ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new FmiError('FMI_CONFIG', `ranksPerFunction must be a positive integer, got ${k}`);
  if (n % k !== 0) throw new FmiError('FMI_CONFIG', `${n} ranks do not split into functions of ${k} ranks: make the rank count a multiple of ranksPerFunction`);
  const fns = n / k;
  const concurrency = o.concurrency ?? fns;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new FmiError('FMI_CONFIG', `concurrency must be a positive integer, got ${concurrency}`);
  const config = o.config === undefined ? undefined : loadConfig(o.config);
  const storeOnly = o.channel === 'redis' || o.channel === 's3' || (config !== undefined && !config.backends.Direct?.enabled);
  const needsRendezvous = !storeOnly;
  if (concurrency < fns && storeOnly) {
    // Slots free up when ranks register at the rendezvous server, which ranks without the direct channel never do.
    throw new FmiError('FMI_CONFIG', `concurrency ${concurrency} below ${fns} invocations needs the direct channel: without it ranks do not report their start, and all must run at once`);
  }
  const retry = { ...DEFAULT_RETRY, ...o.retry };
  const job = o.job ?? `fmi-${randomUUID()}`;
  const secret = newSecret();
  const t0 = performance.now();
  const since = () => Math.round(performance.now() - t0);

  // The rendezvous server: embedded (the functions dial `rendezvous`, or its own address) or a given one.
  let server: RendezvousServer | undefined;
  let dial: Endpoint;
  if (o.rendezvous === undefined || o.rendezvousListen !== undefined) {
    const listen = parseListen(o.rendezvousListen ?? '127.0.0.1:0');
    server = new RendezvousServer({ host: listen.host, port: listen.port, requireSecret: true, maxConnectionsPerAddress: 100_000 });
    const addr = await server.listen();
    dial = o.rendezvous !== undefined ? parseEndpoint(o.rendezvous) : addr;
  } else {
    dial = parseEndpoint(o.rendezvous);
  }
  const outcomes: RankOutcome<R>[] = Array.from({ length: n }, (_, rank) => ({ rank, status: 'not started', attempts: 0, at: {}, function: Math.floor(rank / k) }));
  const ranksOf = (fn: number) => outcomes.slice(fn * k, fn * k + k);
  const progress: Progress = { ranks: n, invoked: 0, joined: 0, paired: 0, done: 0, failed: 0 };
  const report = () => o.onProgress?.({ ...progress });
  const joined = new Set<number>();
  const slots = new Slots(concurrency);
  const release = new Map<number, () => void>();
  let link: LauncherLink | undefined;
  let api: LambdaApi | undefined;
  const records = new RankRecords(job, config, o.channel);
  const warnings: string[] = [];
  // The others must not wait for ranks that failed or never come: tell them through the server and the stores.
  const giveUp = async (fn: number) => {
    for (const r of ranksOf(fn)) link!.abort(r.rank);
    if (records.any) for (const r of ranksOf(fn)) warnings.push(...(await records.giveUp(r.rank)));
  };
  // Whether the function's code has run (so running it again would run it twice): the server knows, or else its stores.
  const started = async (fn: number) => ranksOf(fn).some((r) => joined.has(r.rank)) || (!needsRendezvous && (await records.started(fn * k)) !== false);
  try {
    link = await LauncherLink.open({
      server: server ? server.address() : dial,
      job,
      size: n,
      secret,
      onJoined: (rank) => {
        if (rank >= n || joined.has(rank)) return;
        joined.add(rank);
        outcomes[rank]!.at.joined = since();
        progress.joined++;
        release.get(Math.floor(rank / k))?.();
        report();
      },
      onPaired: (rank) => {
        if (rank >= n || outcomes[rank]!.at.paired !== undefined) return;
        outcomes[rank]!.at.paired = since();
        progress.paired++;
        report();
      },
    });
    api = await openLambda({ region: o.region, endpoint: o.endpoint, maxSockets: fns, clientConfig: o.clientConfig });
    const base: LambdaPayload['fmi'] = {
      rank: 0,
      size: n,
      job,
      secret,
      ...(needsRendezvous && { rendezvous: `${dial.host.includes(':') ? `[${dial.host}]` : dial.host}:${dial.port}` }),
      ...(config !== undefined && { config }),
      ...(o.channel !== undefined && { channel: o.channel }),
      ...(o.hint !== undefined && { hint: o.hint }),
      ...(o.timeoutMarginMs !== undefined && { timeoutMarginMs: o.timeoutMarginMs }),
      ...(o.connectTimeoutMs !== undefined && { connectTimeoutMs: o.connectTimeoutMs }),
      ...(k > 1 && { ranksPerFunction: k }),
    };
    const runFunction = async (fn: number): Promise<void> => {
      const mine = ranksOf(fn);
      const each = (f: (out: RankOutcome<R>) => void) => mine.forEach(f);
      await slots.take();
      let freed = false;
      const free = () => {
        if (!freed) slots.give();
        freed = true;
      };
      release.set(fn, free);
      if (mine.some((r) => joined.has(r.rank))) free();
      try {
        const payload = Buffer.from(JSON.stringify({ fmi: { ...base, rank: fn * k }, input: o.input } satisfies LambdaPayload));
        let answer: InvokeAnswer | undefined;
        let failure: unknown;
        let lostFirst: unknown;
        let error: RankError | undefined;
        let durationMs: number | undefined;
        for (let attempt = 1; ; attempt++) {
          if (attempt === 1) {
            each((out) => (out.at.invoked = since()));
            progress.invoked += k;
            report();
          }
          each((out) => (out.attempts = attempt));
          const sent = performance.now();
          try {
            answer = await callInvoke(api!, o.functionName, payload);
            durationMs = Math.round(performance.now() - sent);
            break;
          } catch (err) {
            failure = err;
            // Throttled: not run. Transient: not run as far as the server or the stores know; a rank that started has run.
            const throttled = isThrottle(err);
            const retryable = attempt < retry.attempts && (throttled || (isTransient(err) && !(await started(fn))));
            if (!retryable) {
              error = { code: errorName(err), message: `${errorName(err)} after ${attempt} attempt${attempt > 1 ? 's' : ''}: ${(err as Error).message}` };
              break;
            }
            if (!throttled) lostFirst ??= err;
            await sleep(backoff(attempt, retry.baseDelayMs, retry.maxDelayMs));
          }
        }
        const at = since();
        each((out) => {
          out.at.done = at;
          out.durationMs = durationMs;
          if (error) out.error = error;
        });
        const results = answer && answer.functionError === undefined ? resultsOf<R>(answer.payload, mine) : undefined;
        if (!answer) {
          // Throttled or refused (4xx): nothing ran. Else only the server or the stores can say.
          const refused = isThrottle(failure) || (status(failure) ?? 500) < 500;
          const crashed = !refused && (await started(fn));
          each((out) => (out.status = crashed ? 'crashed' : 'not started'));
          await giveUp(fn);
        } else if (answer.functionError !== undefined) {
          const e = crashError(answer);
          each((out) => {
            out.status = 'crashed';
            out.billedMs = answer.billedMs;
            out.memoryMiB = answer.memoryMiB;
            out.error = e;
          });
          // Lambda killed it (a timeout) or it threw: its connections may live on in a frozen sandbox.
          await giveUp(fn);
        } else if (lostFirst !== undefined && results!.some((r) => r?.ok === false && r.error.code === 'FMI_RANK_TAKEN')) {
          // An attempt whose call failed had started the function after all: that run's result is lost, and it runs on alone.
          each((out) => {
            out.status = 'crashed';
            out.error = { code: 'FMI_RANK_TAKEN', message: `started by an earlier attempt whose answer was lost (${errorName(lostFirst)}); not run again, its result is lost` };
          });
          await giveUp(fn);
        } else {
          const fnStats = (answer.payload as FunctionResult<R> | null)?.stats;
          mine.forEach((out, i) => {
            const r = results![i];
            out.stats = r?.stats;
            const own = fnStats ?? r?.stats;
            out.billedMs = answer.billedMs ?? (own ? Math.ceil(own.durationMs) : undefined);
            if (answer.billedMs === undefined && own) out.billedEstimated = true;
            out.memoryMiB = answer.memoryMiB ?? own?.memoryMiB;
            if (r && r.ok === true) {
              out.status = 'ok';
              out.result = r.result;
            } else {
              out.status = 'error';
              out.error = r && r.ok === false && r.error ? r.error : { code: 'FMI_PROTOCOL', message: `the function answered ${JSON.stringify(answer.payload)?.slice(0, 200)}, not a rank's result: is it made with lambdaHandler?` };
              if (r && r.ok === false && 'result' in r) out.result = r.result;
            }
          });
        }
        progress.done += k;
        progress.failed += mine.filter((out) => out.status !== 'ok').length;
        report();
      } finally {
        free();
      }
    };
    await Promise.all(Array.from({ length: fns }, (_, fn) => runFunction(fn)));
  } finally {
    link?.close();
    api?.destroy();
    await Promise.all([server?.close(), records.close()]);
  }
  const ok = outcomes.every((r) => r.status === 'ok');
  return { job, ok, ranks: outcomes, cost: jobCost(outcomes, config), wallMs: since(), warnings };
}

/**
 * Each rank's result in an invocation's answer: a FunctionResult's `ranks`
 * by rank, or a lone RankResult (a function of one rank; or one that failed
 * before it could start its ranks: its error then stands for all of them).
 */
function resultsOf<R>(payload: unknown, mine: readonly RankOutcome<R>[]): (RankResult<R> | undefined)[] {
  const p = payload as (RankResult<R> & { ranks?: unknown }) | null;
  if (p && Array.isArray(p.ranks)) {
    const byRank = new Map((p.ranks as RankResult<R>[]).map((r) => [r?.rank, r]));
    return mine.map((out) => byRank.get(out.rank));
  }
  if (p && typeof p === 'object' && 'ok' in p) return mine.map((out) => (p.ok === false || mine.length === 1 ? { ...p, rank: out.rank } : undefined));
  return mine.map(() => undefined);
}
