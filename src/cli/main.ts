#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runLocal } from './run.js';
import { RendezvousServer } from '../rendezvous/server.js';
import { modelCommand } from './model.js';

const USAGE = `fmi: the FaaS Message Interface

Usage:
  fmi run -n N [--no-prefix] <script.mjs|.js> [args...]
      Start N local ranks of one job, with an embedded rendezvous server.
      Output lines are prefixed with "[rank] ". Exits non-zero if any rank
      fails, after stopping the others.
  fmi rendezvous [--port P] [--host H] [--quiet]
      Run a standalone rendezvous server (default 0.0.0.0:7400) for
      deployments. Stops cleanly on SIGINT/SIGTERM.
  fmi model [--config fmi.json] [--ranks N] [--memory MiB] [--ops a,b] [--json]
      Print the modeled time and cost of each operation per channel, and
      which channel the hints 'fast' and 'cheap' pick (see docs/model.md).
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
      return rendezvous(rest);
    case 'model':
      return modelCommand(rest);
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
  // Options end at the script: everything after it belongs to the script.
  const scriptAt = argv.findIndex((a, i) => !a.startsWith('-') && !['-n', '--np'].includes(argv[i - 1] ?? ''));
  if (scriptAt < 0) fail('run needs a script');
  const { values } = parseArgs({
    args: argv.slice(0, scriptAt),
    options: { n: { type: 'string', short: 'n' }, np: { type: 'string' }, 'no-prefix': { type: 'boolean' } },
    strict: true,
  });
  const n = Number(values.n ?? values.np);
  if (!Number.isInteger(n) || n < 1) fail(`-n needs a positive integer, got ${JSON.stringify(values.n ?? values.np)}`);
  return runLocal({ ranks: n, script: argv[scriptAt]!, args: argv.slice(scriptAt + 1), prefix: !values['no-prefix'] });
}

async function rendezvous(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', short: 'p' }, host: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
    strict: true,
  });
  const port = Number(values.port ?? 7400);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port needs a port number, got ${JSON.stringify(values.port)}`);
  const log = values.quiet ? undefined : (l: string) => process.stdout.write(`${new Date().toISOString()} ${l}\n`);
  const server = new RendezvousServer({ port, host: values.host ?? '0.0.0.0', log });
  const addr = await server.listen();
  process.stdout.write(`fmi rendezvous listening on ${addr.host}:${addr.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.stdout.write(`fmi rendezvous: ${sig}, shutting down\n`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await server.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`fmi: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
