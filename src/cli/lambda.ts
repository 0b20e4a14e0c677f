import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { invokeJob, type JobResult, type Progress } from '../lambda/invoke.js';
import { UsageError } from './rendezvous.js';

export const LAMBDA_USAGE = `  fmi lambda invoke --function NAME -n N [--input file.json] [--config fmi.json]
         [--rendezvous host:port | --rendezvous-listen host:port] [--region R]
         [--concurrency K] [--endpoint URL] [--channel direct|redis|s3]
         [--hint fast|cheap] [--ranks-per-function K] [--json]
      Run a job of N invocations of a Lambda function made with fmi/lambda's
      lambdaHandler: makes the job id and secret, runs a rendezvous server
      (--rendezvous-listen, default 127.0.0.1:0; the functions dial
      --rendezvous if given, else that address) or uses --rendezvous alone,
      invokes the N ranks at once (--concurrency: at most K starting at once),
      retries throttled ones, prints a table per rank and the job's cost
      (--json: the whole outcome as JSON). --input is every rank's
      event.input. --endpoint sends the calls to another Invoke API (as the
      AWS CLI's --endpoint-url; AWS_ENDPOINT_URL_LAMBDA works too).
      --ranks-per-function K: K ranks per invocation as worker threads (the
      handler made with lambdaHandler's ranksPerFunction: K), N/K
      invocations. Exits 1 if any rank failed.
`;

/** `fmi lambda <sub>`: one case per subcommand. */
export async function lambdaCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'invoke':
      return invokeCommand(rest);
    case 'package':
      return (await import('./lambda-package.js')).lambdaPackageCommand(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`Usage:\n${LAMBDA_USAGE}${(await import('./lambda-package.js')).LAMBDA_PACKAGE_USAGE}`);
      return 0;
    default:
      throw new UsageError(sub === undefined ? 'lambda needs a subcommand: invoke or package' : `unknown lambda subcommand ${JSON.stringify(sub)}`);
  }
}

async function invokeCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        function: { type: 'string' },
        n: { type: 'string', short: 'n' },
        input: { type: 'string' },
        config: { type: 'string' },
        rendezvous: { type: 'string' },
        'rendezvous-listen': { type: 'string' },
        region: { type: 'string' },
        concurrency: { type: 'string' },
        endpoint: { type: 'string' },
        channel: { type: 'string' },
        hint: { type: 'string' },
        'ranks-per-function': { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(`lambda invoke: ${(err as Error).message}`);
  }
  if (!values.function) throw new UsageError('lambda invoke needs --function NAME');
  const n = Number(values.n);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`lambda invoke: -n needs a positive integer, got ${JSON.stringify(values.n)}`);
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) throw new UsageError(`lambda invoke: --concurrency needs a positive integer`);
  const perFunction = values['ranks-per-function'] === undefined ? 1 : Number(values['ranks-per-function']);
  if (!Number.isInteger(perFunction) || perFunction < 1) throw new UsageError('lambda invoke: --ranks-per-function needs a positive integer');
  if (n % perFunction !== 0) throw new UsageError(`lambda invoke: -n ${n} is not a multiple of --ranks-per-function ${perFunction}`);
  if (values.channel !== undefined && !['direct', 'redis', 's3'].includes(values.channel)) throw new UsageError('lambda invoke: --channel must be direct, redis or s3');
  if (values.hint !== undefined && !['fast', 'cheap'].includes(values.hint)) throw new UsageError('lambda invoke: --hint must be fast or cheap');
  let input: unknown;
  if (values.input !== undefined) {
    try {
      input = JSON.parse(readFileSync(values.input, 'utf8'));
    } catch (err) {
      throw new UsageError(`lambda invoke: --input ${values.input}: ${(err as Error).message}`);
    }
  }
  // Read here, so a bad file fails before any function is invoked.
  const config = values.config === undefined ? undefined : loadConfig(values.config);
  const tty = process.stderr.isTTY === true && !values.json;
  const result = await invokeJob({
    functionName: values.function,
    ranks: n,
    ranksPerFunction: perFunction,
    input,
    config,
    channel: values.channel as 'direct' | 'redis' | 's3' | undefined,
    hint: values.hint as 'fast' | 'cheap' | undefined,
    rendezvous: values.rendezvous,
    rendezvousListen: values['rendezvous-listen'],
    region: values.region,
    endpoint: values.endpoint,
    concurrency,
    onProgress: tty ? (p) => process.stderr.write(`\r${progressLine(p)}\x1b[K`) : undefined,
  });
  if (tty) process.stderr.write('\n');
  process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : formatJob(result));
  return result.ok ? 0 : 1;
}

function progressLine(p: Progress): string {
  return `fmi lambda: ${p.ranks} ranks: ${p.invoked} invoked, ${p.joined} started, ${p.paired} paired, ${p.done} done${p.failed ? `, ${p.failed} failed` : ''}`;
}

/** The per-rank table and the job's cost, as printed. */
export function formatJob(r: JobResult): string {
  // With several ranks per function, a column says which invocation ran each rank (calls and billed ms are its).
  const perFunction = r.ranks.some((o) => o.function !== o.rank);
  const rows = r.ranks.map((o) => [
    String(o.rank),
    ...(perFunction ? [String(o.function)] : []),
    o.status,
    String(o.attempts),
    o.durationMs === undefined ? '-' : String(o.durationMs),
    o.billedMs === undefined ? '-' : String(o.billedMs),
    o.error ? short(`${o.error.code}: ${o.error.message}`, 100) : '',
  ]);
  const head = ['rank', ...(perFunction ? ['fn'] : []), 'status', 'calls', 'ms', 'billed ms', 'error'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]!))).join('  ').trimEnd();
  const failed = r.ranks.filter((o) => o.status !== 'ok').length;
  const c = r.cost;
  const usd = (x: number) => `$${x.toFixed(x < 0.01 ? 6 : 4)}`;
  const first = r.ranks.find((o) => o.status === 'ok');
  return [
    `job ${r.job}: ${r.ranks.length} ranks${perFunction ? ` in ${new Set(r.ranks.map((o) => o.function)).size} functions` : ''}, ${failed === 0 ? 'all ok' : `${failed} failed`}, ${(r.wallMs / 1000).toFixed(2)} s`,
    line(head),
    ...rows.map(line),
    `cost: ${c.billedGbSeconds.toFixed(3)} GB-s billed = ${usd(c.functionUsd)}, ${usd(c.requestUsd)} requests, ${usd(c.channelUsd)} channels (model) = ${usd(c.totalUsd)}` +
      (c.estimatedRanks ? ` (${c.estimatedRanks} invocation${c.estimatedRanks > 1 ? 's' : ''} without a REPORT line: billed time estimated)` : ''),
    ...(first ? [`result of rank ${first.rank}: ${short(JSON.stringify(first.result) ?? 'undefined', 400)}`] : []),
    ...(r.warnings ?? []).map((w) => `warning: ${w}`),
    '',
  ].join('\n');
}

function short(s: string, max: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}
