import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRegion } from '../channels/shm/region.js';
import { startRankThread, type RankThread } from '../cli/rank-threads.js';
import { loadConfig } from '../config/index.js';
import { FmiError, TimeoutError } from '../errors.js';
import type { LambdaHandlerOptions } from './handler.js';
import { memoryMiB, perFunctionMismatch, rankError, rankOf, remaining } from './rank-results.js';
import { MAX_RESPONSE_BYTES, readPayload, type FunctionResult, type LambdaContext, type LambdaPayload, type RankResult, type RankStats } from './payload.js';
import { claimRanks, claimStore } from './rank-claim.js';

/**
 * Several ranks in one invocation (`lambdaHandler(fn, { ranksPerFunction })`):
 * the function's main thread claims them (in a job without a rendezvous
 * server), makes one shared-memory region for them and starts a worker
 * thread per rank (cli/rank-threads.ts, as `fmi run --threads` does). Each
 * thread loads the handler's module again and runs the rank through the
 * handler's THREAD_RANK entry: init() finds the region in its workerData,
 * so ranks of the function talk over shared memory and reach the other
 * functions' ranks over the direct channel (or Redis, S3). The main thread
 * answers every rank's result at once.
 */

/** The handler's entry for one thread rank (a symbol in the global registry: the worker's copy of fmi finds the same). */
export const THREAD_RANK = Symbol.for('fmi.lambda.threadRank');

/** What a thread rank gets in its workerData (under `fmiLambda`). */
export interface ThreadRankData {
  event: LambdaPayload;
  /** Epoch ms of the function's Lambda deadline; null without one. */
  deadline: number | null;
  /** The handler module's file URL, and its export's name ("handler", or "a.b"). */
  module: string;
  export: string;
  requestId?: string;
  functionName?: string;
}

/**
 * Code of each worker (eval: a Lambda bundle needs no extra file): load the
 * module, run the rank, post the result. Runs as CommonJS or as an ES module
 * (a parent under --input-type=module evaluates it as one): no require.
 */
const ENTRY = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const d = workerData.fmiLambda;
const context = {
  awsRequestId: d.requestId,
  functionName: d.functionName,
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => (d.deadline === null ? NaN : Math.max(0, d.deadline - Date.now())),
};
import(d.module)
  .then((m) => {
    const h = d.export.split('.').reduce((o, k) => (o == null ? o : o[k]), m);
    const run = h == null ? undefined : h[Symbol.for('fmi.lambda.threadRank')];
    if (typeof run !== 'function') throw new Error(d.module + ' has no export ' + d.export + ' made with lambdaHandler');
    return run(d, context);
  })
  .then(
    (result) => parentPort.postMessage({ result }),
    (e) => parentPort.postMessage({ failed: { code: 'FMI_CONFIG', message: 'rank ' + d.event.fmi.rank + "'s thread could not run its handler: " + ((e && e.message) || String(e)) } }),
  );
`;

/** Once a thread answered, how long it may take to end by itself before it is terminated (a timer the user left). */
const EXIT_GRACE_MS = 200;
/** After the deadline, how long the main thread waits for the threads' own FMI_TIMEOUT answers. */
const DEADLINE_GRACE_MS = 500;

/** The option, checked when the handler is made. */
export function checkRanksPerFunction(k: number | undefined): number {
  if (k === undefined) return 1;
  if (!Number.isInteger(k) || k < 1 || k > 64) throw new FmiError('FMI_CONFIG', `lambdaHandler: ranksPerFunction must be an integer from 1 to 64, got ${String(k)}`);
  return k;
}

export async function runFunction<R>(event: unknown, context: LambdaContext, opts: LambdaHandlerOptions, k: number): Promise<RankResult<R> | FunctionResult<R>> {
  const started = performance.now();
  const stats: RankStats = { memoryMiB: memoryMiB(), durationMs: 0, startedAt: Date.now() };
  const done = (ranks: RankResult<R>[]): FunctionResult<R> => {
    stats.durationMs = Math.round(performance.now() - started);
    return fitAll({ rank: ranks[0]!.rank, ok: ranks.every((r) => r.ok), ranks, stats }, opts.maxResponseBytes ?? MAX_RESPONSE_BYTES);
  };
  let payload: LambdaPayload;
  try {
    payload = readPayload(event);
  } catch (err) {
    return { rank: rankOf(event), ok: false, error: rankError(err), stats };
  }
  const f = payload.fmi;
  const sent = f.ranksPerFunction ?? 1;
  const every = (n: number, err: unknown) => done(Array.from({ length: n }, (_, i) => ({ rank: f.rank + i, ok: false, error: rankError(err) })));
  if (sent !== k) return every(sent, perFunctionMismatch(sent, k));
  const ranks = Array.from({ length: k }, (_, i) => f.rank + i);
  const margin = f.timeoutMarginMs ?? opts.timeoutMarginMs ?? 1000;
  const left = remaining(context);
  if (left - margin <= 0) return every(k, new TimeoutError(`the function had ${margin} ms left before its Lambda timeout`, { rank: f.rank, op: 'lambda' }));
  let module: { url: string; name: string };
  try {
    module = handlerModule(opts.module);
    const config = f.config === undefined ? undefined : loadConfig(f.config);
    const store = f.rendezvous === undefined ? claimStore(config, f.channel) : undefined;
    const joinMs = Math.min(f.connectTimeoutMs ?? opts.init?.connectTimeoutMs ?? 30_000, left - margin);
    if (store) await claimRanks(f.job, ranks, config!, store, context?.awsRequestId ?? randomUUID(), joinMs);
  } catch (err) {
    return every(k, err);
  }
  const region = createRegion(ranks);
  const deadline = Number.isFinite(left) ? Date.now() + left : null;
  const threads = ranks.map((rank, slot) => {
    const data: ThreadRankData = {
      event: { ...payload, fmi: { ...f, rank, ranksPerFunction: undefined } },
      deadline,
      module: module.url,
      export: module.name,
      requestId: context?.awsRequestId,
      functionName: context?.functionName,
    };
    return startRankThread({ job: f.job, rank, slot, region, entry: ENTRY, eval: true, workerData: { fmiLambda: data }, prefix: `[${rank}] ` });
  });
  // The main thread's own deadline: a thread stuck past its FMI_TIMEOUT (a busy loop) is ended, not waited for.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    if (deadline !== null) timer = setTimeout(() => r('late'), Math.min(left - margin + Math.min(DEADLINE_GRACE_MS, margin / 2), 2 ** 31 - 1));
  });
  try {
    return done(await Promise.all(threads.map((t, i) => answerOf<R>(t, ranks[i]!, late))));
  } finally {
    clearTimeout(timer);
  }
}

/** A thread's answer: its result, or why it has none (it ended first, or ran past the deadline). */
async function answerOf<R>(t: RankThread, rank: number, late: Promise<'late'>): Promise<RankResult<R>> {
  let answer: RankResult<R> | undefined;
  const got = new Promise<'got'>((resolve) => {
    t.worker.on('message', (m: { result?: RankResult<R>; failed?: { code: string; message: string } }) => {
      answer = m.result ?? { rank, ok: false, error: m.failed ?? { code: 'FMI_PROTOCOL', message: 'a thread rank posted no result' } };
      resolve('got');
    });
  });
  const ended = t.exited.then((code) => ({ code }));
  const first = await Promise.race([got, ended, late]);
  if (first === 'got') await Promise.race([t.exited, new Promise((r) => setTimeout(r, EXIT_GRACE_MS))]);
  // Ends whatever still runs there (the user's timers; a thread past its deadline); its slot is marked gone.
  await t.worker.terminate();
  const code = await t.exited;
  if (answer) return answer;
  if (first === 'late') return { rank, ok: false, error: rankError(new TimeoutError(`rank ${rank}'s thread did not answer by the function's deadline: ended`, { rank, op: 'lambda' })) };
  return {
    rank,
    ok: false,
    error: { code: 'FMI_THREAD_EXIT', message: `rank ${rank}'s thread ended (exit code ${code}) before it returned a result: process.exit() or an uncaught exception in it (see the function's log)` },
  };
}

/** Within Lambda's response limit: the largest results give way to FMI_RESULT_TOO_LARGE until the whole fits. */
function fitAll<R>(out: FunctionResult<R>, max: number): FunctionResult<R> {
  const size = (x: unknown) => Buffer.byteLength(JSON.stringify(x) ?? '', 'utf8');
  const whole = size(out);
  let total = whole;
  if (total <= max) return out;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  const ranks = [...out.ranks];
  const order = ranks.map((r, i) => ({ i, bytes: size(r) })).sort((a, b) => b.bytes - a.bytes);
  for (const { i, bytes } of order) {
    if (total <= max) break;
    const r = ranks[i]!;
    const message =
      `the function's response (its ${ranks.length} ranks' results) is ${mb(whole)} MiB, above Lambda's ${mb(max)} MiB limit for a response; rank ${r.rank}'s ` +
      `(${mb(bytes)} MiB) was left out: gather what you need to rank 0 and return a summary, or write large results to S3 and return their keys`;
    ranks[i] = { rank: r.rank, ok: false, error: { code: 'FMI_RESULT_TOO_LARGE', message }, stats: r.stats };
    total -= bytes - size(ranks[i]);
  }
  return { ...out, ok: ranks.every((r) => r.ok), ranks };
}

/**
 * The module that exports the handler, and the export's name: `module` if
 * given, else as the Lambda runtime finds it from `_HANDLER`
 * ("dir/file.export": dir/file.js, .mjs or .cjs under LAMBDA_TASK_ROOT).
 */
export function handlerModule(module: string | URL | undefined, env: NodeJS.ProcessEnv = process.env): { url: string; name: string } {
  const spec = env._HANDLER ?? '';
  const base = basename(spec);
  const dot = base.indexOf('.');
  const name = dot > 0 ? base.slice(dot + 1) : 'handler';
  if (module !== undefined) return { url: module instanceof URL ? module.href : module.startsWith('file:') ? module : pathToFileURL(resolve(module)).href, name };
  if (dot <= 0) {
    throw new FmiError('FMI_CONFIG', `ranksPerFunction: no _HANDLER to find the handler's module for its threads: pass lambdaHandler(fn, { ranksPerFunction, module: import.meta.url })`);
  }
  const stem = resolve(env.LAMBDA_TASK_ROOT ?? process.cwd(), dirname(spec), base.slice(0, dot));
  const file = ['.js', '.mjs', '.cjs'].map((ext) => stem + ext).find((p) => existsSync(p));
  if (!file) throw new FmiError('FMI_CONFIG', `ranksPerFunction: no ${stem}.js, .mjs or .cjs (from _HANDLER=${spec}): pass lambdaHandler's module option (import.meta.url)`);
  return { url: pathToFileURL(file).href, name };
}
