// A TEST DOUBLE of AWS Lambda's Invoke API, and of nothing else of Lambda:
// POST /2015-03-31/functions/NAME/invocations as @aws-sdk/client-lambda sends
// it, answered as Lambda answers (status codes, X-Amz-Function-Error,
// X-Amz-Log-Result with a REPORT line, x-amzn-ErrorType on errors). No
// deployment API, no aliases or versions, no asynchronous retries, no
// authentication (signatures are not checked).
//
// Each invocation runs in a process of its own (runner.mjs) with Lambda's
// environment variables (AWS_LAMBDA_FUNCTION_NAME, _MEMORY_SIZE, _VERSION,
// AWS_REGION, LAMBDA_TASK_ROOT, _HANDLER...), a context whose
// getRemainingTimeInMillis() counts down the function's timeout, and is killed
// when the timeout passes (answered with FunctionError, as Lambda does).
//
// Faults it can be told to make, for tests: throttle (429
// TooManyRequestsException) the first K calls, or the first n calls of rank r,
// or every call of rank r (a rank that never starts); give rank r a shorter
// timeout; drop rank r's connection (as a network fault does) once its
// function logged a given line, after it started: the function runs on, its
// answer is lost; lose the connection of rank r's first call before its
// function starts (loseFirst: the function then runs at once, 'run', or when
// the test calls release(r), 'hold': a late duplicate); with 'run', hold
// rank r's later calls until the first call's function logged a given line
// or ended (firstLogs: Lambda happened to start the lost call first, so it
// wins the rank's claim). Ranks are read from the fmi payload ({fmi: {rank}}): that is where
// this double knows about fmi.
//
//   const double = await startInvokeDouble({ functions: { sgd: { module: 'examples/lambda/handler.mjs', timeoutMs: 60000 } } });
//   ... invokeJob({ functionName: 'sgd', endpoint: double.endpoint, ... }) ...
//   await double.close();
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { basename, dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNNER = fileURLToPath(new URL('./runner.mjs', import.meta.url));
const PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
/** Lambda returns the last 4 KB of the log with LogType Tail. */
const TAIL_BYTES = 4096;
const MAX_PAYLOAD = 6 * 1024 * 1024;

/**
 * @typedef {{ module: string, export?: string, timeoutMs?: number, memoryMiB?: number, env?: Record<string, string> }} FunctionSpec
 * @typedef {{
 *   functions: Record<string, FunctionSpec>,
 *   host?: string,
 *   throttleFirst?: number,
 *   throttleRank?: Record<number, number>,
 *   neverStart?: number[],
 *   timeoutMsByRank?: Record<number, number>,
 *   dropOnLog?: Record<number, string>,
 *   loseFirst?: Record<number, 'run' | 'hold'>,
 *   firstLogs?: Record<number, string>,
 *   region?: string,
 * }} DoubleOptions
 * @typedef {{ at: number, function: string, rank: number | undefined, status: number, error?: string, lost?: boolean, log?: string[], answer?: unknown }} CallRecord
 *   (log: the invocation's log lines so far; answer: what it returned, also when its connection was lost)
 */

/** @param {DoubleOptions} opts */
export async function startInvokeDouble(opts) {
  /** @type {CallRecord[]} */
  const calls = [];
  const children = new Set();
  const rankCalls = new Map();
  /** rank -> starts the held first call's function (loseFirst 'hold'). */
  const held = new Map();
  /** rank -> resolves once its first call's function logged firstLogs[rank], or ended. */
  const firstLogged = new Map();
  let n = 0;

  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks)).then(
        ({ status, headers = {}, body = '' }) => {
          res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-requestid': randomUUID(), ...headers });
          res.end(body);
        },
        (err) => {
          res.writeHead(500, { 'content-type': 'application/json', 'x-amzn-errortype': 'ServiceException' });
          res.end(JSON.stringify({ message: String(err?.message ?? err) }));
        },
      );
    });
  });

  const awsError = (status, type, message, extra = {}) => ({
    status,
    headers: { 'x-amzn-errortype': type },
    body: JSON.stringify({ Type: 'User', message, ...extra }),
  });

  async function handle(req, body) {
    const m = PATH.exec(new URL(req.url, 'http://x').pathname);
    if (req.method !== 'POST' || !m) return awsError(404, 'UnknownOperationException', `this test double serves only Invoke, not ${req.method} ${req.url}`);
    const name = decodeURIComponent(m[1]);
    const fn = opts.functions[name];
    if (!fn) return awsError(404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${opts.region ?? 'us-east-1'}:000000000000:function:${name}`);
    if (body.length > MAX_PAYLOAD) return awsError(413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
    let event;
    try {
      event = body.length ? JSON.parse(body.toString('utf8')) : {};
    } catch {
      return awsError(400, 'InvalidRequestContentException', 'Could not parse request body into json');
    }
    const rank = Number.isInteger(event?.fmi?.rank) ? event.fmi.rank : undefined;
    const record = { at: Date.now(), function: name, rank, status: 0 };
    calls.push(record);
    const k = n++;
    const ofRank = rank === undefined ? 0 : (rankCalls.get(rank) ?? 0);
    if (rank !== undefined) rankCalls.set(rank, ofRank + 1);
    const throttled =
      k < (opts.throttleFirst ?? 0) || (rank !== undefined && (opts.neverStart?.includes(rank) || ofRank < (opts.throttleRank?.[rank] ?? 0)));
    if (throttled) {
      record.status = 429;
      return awsError(429, 'TooManyRequestsException', 'Rate Exceeded.', { Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
    }
    const type = req.headers['x-amz-invocation-type'] ?? 'RequestResponse';
    if (type === 'DryRun') return { status: 204 };
    const lose = rank !== undefined && ofRank === 0 ? opts.loseFirst?.[rank] : undefined;
    if (lose) {
      // The caller sees its connection drop (ECONNRESET); Lambda runs the function all the same.
      record.lost = true;
      req.socket.destroy();
      const line = opts.firstLogs?.[rank];
      let logged = () => {};
      if (line !== undefined) firstLogged.set(rank, new Promise((r) => (logged = r)));
      const onFirstLog = line === undefined ? undefined : (l) => l.includes(line) && logged();
      const start = () => invoke(name, fn, event, rank, onFirstLog, record).then(() => (logged(), record));
      if (lose === 'hold') held.set(rank, start);
      else start();
      return new Promise(() => {});
    }
    if (rank !== undefined) await firstLogged.get(rank);
    const drop = rank === undefined ? undefined : opts.dropOnLog?.[rank];
    const onLog = drop && ((line) => line.includes(drop) && req.socket.destroy());
    const run = invoke(name, fn, event, rank, onLog, record);
    if (type === 'Event') {
      run.catch(() => {});
      record.status = 202;
      return { status: 202 };
    }
    const out = await run;
    record.status = 200;
    if (out.error) record.error = out.error.errorType;
    const headers = { 'x-amz-executed-version': '$LATEST' };
    if (req.headers['x-amz-log-type'] === 'Tail') headers['x-amz-log-result'] = tail(out.log);
    if (out.error) return { status: 200, headers: { ...headers, 'x-amz-function-error': 'Unhandled' }, body: JSON.stringify(out.error) };
    if (Buffer.byteLength(out.payload) > MAX_PAYLOAD) {
      return { status: 200, headers: { ...headers, 'x-amz-function-error': 'Unhandled' }, body: JSON.stringify({ errorType: 'Function.ResponseSizeTooLarge', errorMessage: 'Response payload size exceeded maximum allowed payload size (6291456 bytes).' }) };
    }
    return { status: 200, headers, body: out.payload };
  }

  /** Runs one invocation in a process of its own; resolves to its payload or its error, and its log (kept in `record` too). */
  function invoke(name, fn, event, rank, onLog, record) {
    const requestId = randomUUID();
    const timeoutMs = (rank !== undefined && opts.timeoutMsByRank?.[rank]) || fn.timeoutMs || 3000;
    const memory = fn.memoryMiB ?? 1024;
    const module = resolve(fn.module);
    const log = [`START RequestId: ${requestId} Version: $LATEST`];
    record.log = log;
    const child = fork(RUNNER, [module, fn.export ?? 'handler'], {
      cwd: dirname(module),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...process.env,
        ...fn.env,
        AWS_LAMBDA_FUNCTION_NAME: name,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memory),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `double/[$LATEST]${requestId.replaceAll('-', '')}`,
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        AWS_REGION: opts.region ?? 'us-east-1',
        AWS_DEFAULT_REGION: opts.region ?? 'us-east-1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        LAMBDA_TASK_ROOT: dirname(module),
        // As Lambda sets it: the module's path under LAMBDA_TASK_ROOT without its extension, then the export.
        _HANDLER: `${basename(module, extname(module))}.${fn.export ?? 'handler'}`,
        TZ: ':UTC',
      },
    });
    children.add(child);
    for (const s of [child.stdout, child.stderr]) {
      s.on('data', (d) => {
        const lines = d.toString('utf8').replace(/\n$/, '').split('\n');
        log.push(...lines);
        if (onLog) lines.forEach(onLog);
      });
    }
    const spawned = performance.now();
    return new Promise((resolvePromise) => {
      let started;
      let timer;
      let done = false;
      const finish = (out) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const end = performance.now();
        const ms = started === undefined ? 0 : end - started;
        const init = (started ?? end) - spawned;
        log.push(`END RequestId: ${requestId}`);
        log.push(`REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.ceil(ms)} ms\tMemory Size: ${memory} MB\tInit Duration: ${init.toFixed(2)} ms`);
        children.delete(child);
        if (child.exitCode === null) child.kill('SIGKILL');
        try {
          record.answer = out.error ?? JSON.parse(out.payload);
        } catch {
          record.answer = out.payload;
        }
        resolvePromise({ ...out, log });
      };
      child.on('message', (m) => {
        if (m.t === 'ready') {
          started = performance.now();
          timer = setTimeout(() => {
            finish({ error: { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` } });
          }, timeoutMs);
          child.send({ event, deadline: Date.now() + timeoutMs, requestId });
        } else if (m.t === 'result') finish({ payload: m.payload });
        else if (m.t === 'error') finish({ error: { errorType: m.errorType, errorMessage: m.errorMessage, trace: m.trace } });
      });
      // 'close', not 'exit': every message the runner sent has been read by then.
      child.on('close', (code, signal) => {
        finish({ error: { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited ${signal ? `with signal: ${signal}` : `with error: exit status ${code}`}` } });
      });
    });
  }

  function tail(lines) {
    const all = Buffer.from(lines.join('\n') + '\n', 'utf8');
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('base64');
  }

  await new Promise((r) => server.listen(0, opts.host ?? '127.0.0.1', r));
  const { port } = server.address();
  return {
    endpoint: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    calls,
    /** Starts the function of rank r's held first call (loseFirst 'hold'); resolves to its call record once it answered. */
    release(rank) {
      const start = held.get(rank);
      if (!start) throw new Error(`rank ${rank} has no held call`);
      held.delete(rank);
      return start();
    },
    async close() {
      for (const c of children) c.kill('SIGKILL');
      server.closeAllConnections?.();
      await new Promise((r) => server.close(() => r()));
    },
  };
}
