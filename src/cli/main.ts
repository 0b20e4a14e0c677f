#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runLocal } from './run.js';
import { rendezvousCommand, RENDEZVOUS_USAGE, UsageError } from './rendezvous.js';
import { modelCommand } from './model.js';
import { calibrateCommand } from './calibrate.js';
import { cleanCommand } from './clean.js';
import { ccCommand } from './cc.js';
import { loadConfig } from '../config/index.js';
import { ENV } from '../comm/init.js';
import { delimiter, resolve } from 'node:path';
import { MOUNT_ENV, mountDirs } from '../mpi/program.js';
import { FmiError } from '../errors.js';

const USAGE = `fmi: the FaaS Message Interface

Usage:
  fmi run -n N [--threads [K]] [--config fmi.json] [--channel direct|redis|s3]
         [--hint fast|cheap] [--mount DIR]... [--no-prefix] <script.mjs|.js> [args...]
      Start N local ranks of one job, with an embedded rendezvous server.
      Output lines are prefixed with "[rank] ". Exits non-zero if any rank
      fails, after stopping the others. --config opens the backends the file
      enables and lets the cost model choose per operation; --channel forces one.
      --threads K runs K ranks per process as worker threads that talk through
      shared memory (--threads alone: all N in one process).
      --mount DIR gives a program built with fmi cc the host directory DIR,
      at its own path (repeatable; see docs/mpi.md).
  fmi cc <prog.c and emcc flags> -o prog.js     (and fmi c++ for C++)
      Compile and link a C/C++ MPI program with Emscripten against fmi's
      mpi.h; run it with fmi run -n N prog.js [args] (see docs/mpi.md).
  fmi lambda invoke --function NAME -n N [--input f.json] [--config fmi.json] [...]
      Run a job of N invocations of an AWS Lambda function made with
      fmi/lambda; see fmi lambda --help.
  fmi lambda package ENTRY [-o function.zip] [...]
      Bundle a Lambda handler with fmi into a deployment zip (see docs/lambda.md).
  fmi clean --job ID --config fmi.json
      Delete what a crashed job left in Redis and S3.
${RENDEZVOUS_USAGE}
  fmi model [--config fmi.json] [--ranks N] [--memory MiB] [--ops a,b]
         [--channels a,b] [--ops-per-hour N] [--json]
      Print the modeled time and cost of each operation per channel, and
      which channel the hints 'fast' and 'cheap' pick (see docs/model.md).
  fmi calibrate [--config fmi.json] [-n 4] [--out file] [--channels a,b]
         [--threads] [--quick] [--json]
      Measure every enabled channel between N local ranks and write the
      latencies and bandwidths into the config's model section.
  fmi --version | --help
`;

function fail(msg: string): never {
  process.stderr.write(`fmi: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return run(rest);
    case 'rendezvous':
      return rendezvousCommand(rest);
    case 'model':
      return modelCommand(rest);
    case 'calibrate':
      return calibrateCommand(rest);
    case 'clean':
      return cleanCommand(rest);
    case 'cc':
      return ccCommand(rest, false);
    case 'c++':
      return ccCommand(rest, true);
    case 'lambda':
      return (await import('./lambda.js')).lambdaCommand(rest);
    case '--version':
    case '-v': {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      fail(`unknown command ${JSON.stringify(cmd)}`);
  }
}

async function run(argv: string[]): Promise<number> {
  // --threads takes an optional count ("--threads 4"; alone: all ranks in one process), before the script.
  for (let i = 0; i < argv.length && argv[i]!.startsWith('-'); i++) {
    if (argv[i] === '--threads') {
      const k = /^\d+$/.test(argv[i + 1] ?? '') ? argv[i + 1]! : undefined;
      argv = [...argv.slice(0, i), `--threads=${k ?? 'all'}`, ...argv.slice(k === undefined ? i + 1 : i + 2)];
      break;
    }
    if (['-n', '--np', '--config', '--channel', '--hint', '--mount'].includes(argv[i]!)) i++;
  }
  // Options end at the script: everything after it belongs to the script.
  const valued = ['-n', '--np', '--config', '--channel', '--hint', '--mount'];
  const scriptAt = argv.findIndex((a, i) => !a.startsWith('-') && !valued.includes(argv[i - 1] ?? ''));
  if (scriptAt < 0) fail('run needs a script');
  const { values } = parseArgs({
    args: argv.slice(0, scriptAt),
    options: {
      n: { type: 'string', short: 'n' },
      np: { type: 'string' },
      'no-prefix': { type: 'boolean' },
      threads: { type: 'string' },
      config: { type: 'string' },
      channel: { type: 'string' },
      hint: { type: 'string' },
      mount: { type: 'string', multiple: true },
    },
    strict: true,
  });
  const n = Number(values.n ?? values.np);
  if (!Number.isInteger(n) || n < 1) fail(`-n needs a positive integer, got ${JSON.stringify(values.n ?? values.np)}`);
  const threads = values.threads === undefined ? undefined : values.threads === 'all' ? n : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) fail(`--threads needs a positive integer, got ${JSON.stringify(values.threads)}`);
  if (values.channel !== undefined && !['direct', 'redis', 's3'].includes(values.channel)) fail(`--channel must be direct, redis or s3`);
  if (values.hint !== undefined && !['fast', 'cheap'].includes(values.hint)) fail(`--hint must be fast or cheap`);
  const env: NodeJS.ProcessEnv = {};
  let config;
  if (values.config !== undefined) {
    // Checked here, so a bad file fails once instead of in every rank.
    config = loadConfig(values.config);
    env[ENV.config] = resolve(values.config);
  }
  if (values.channel !== undefined) env[ENV.channel] = values.channel;
  if (values.hint !== undefined) env[ENV.hint] = values.hint;
  if (values.mount) env[MOUNT_ENV] = mountDirs(values.mount).join(delimiter);
  return runLocal({ ranks: n, script: argv[scriptAt]!, args: argv.slice(scriptAt + 1), prefix: !values['no-prefix'], env, config, threads: threads && Math.min(threads, n) });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof UsageError) fail(err.message);
    // A bad file or setting is one line, not a stack trace.
    if (err instanceof FmiError && err.code === 'FMI_CONFIG') {
      process.stderr.write(`fmi: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`fmi: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
