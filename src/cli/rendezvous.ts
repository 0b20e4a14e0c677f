import { parseArgs } from 'node:util';
import { RendezvousServer, type RendezvousServerOptions } from '../rendezvous/server.js';
import { readPem } from '../rendezvous/transport.js';

export const RENDEZVOUS_USAGE = `  fmi rendezvous [--port P] [--host H] [--require-secret] [--quiet]
         [--tls-cert cert.pem --tls-key key.pem] [--idle-timeout MS] [--max-connections N] [--max-connections-per-address N]
         [--max-jobs N] [--max-ranks N] [--health-interval S]
      Run a standalone rendezvous server (default 0.0.0.0:7400) for
      deployments. Connections that neither register nor pair are closed
      after --idle-timeout (10000 ms); connections (10000 in all, 1000 per
      address), jobs (1000) and job sizes (10000 ranks) are capped. Prints a
      health line (jobs, ranks, connections, pairings/s) on stderr every
      --health-interval seconds (60; 0: never). Stops cleanly on SIGINT/SIGTERM.
      With --tls-cert and --tls-key (PEM files) it speaks TLS only: ranks set
      FMI_RENDEZVOUS=tls://host:port (and FMI_RENDEZVOUS_CA for a private CA).`;

/** Thrown for a bad command line; main prints it with the usage. */
export class UsageError extends Error {}

/** `fmi rendezvous`: the server on its own, until SIGINT or SIGTERM. Resolves to the exit code. */
export async function rendezvousCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      'require-secret': { type: 'boolean' },
      'idle-timeout': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-connections-per-address': { type: 'string' },
      'max-jobs': { type: 'string' },
      'max-ranks': { type: 'string' },
      'health-interval': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
    },
    strict: true,
  });
  const port = count(values.port ?? '7400', '--port', 0);
  if (port > 65535) throw new UsageError(`--port needs a port number, got ${JSON.stringify(values.port)}`);
  const host = values.host ?? '0.0.0.0';
  const opts: RendezvousServerOptions = { port, host, requireSecret: values['require-secret'] ? true : undefined };
  if (values['idle-timeout'] !== undefined) opts.idleTimeoutMs = count(values['idle-timeout'], '--idle-timeout');
  if (values['max-connections'] !== undefined) opts.maxConnections = count(values['max-connections'], '--max-connections');
  if (values['max-connections-per-address'] !== undefined) {
    opts.maxConnectionsPerAddress = count(values['max-connections-per-address'], '--max-connections-per-address');
  }
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  if (cert !== undefined && key !== undefined) opts.tls = { cert: readPem(cert, '--tls-cert'), key: readPem(key, '--tls-key') };
  if (values['max-jobs'] !== undefined) opts.maxJobs = count(values['max-jobs'], '--max-jobs');
  if (values['max-ranks'] !== undefined) opts.maxRanksPerJob = count(values['max-ranks'], '--max-ranks');
  const healthS = Number(values['health-interval'] ?? 60);
  if (!Number.isFinite(healthS) || healthS < 0) throw new UsageError(`--health-interval needs seconds >= 0, got ${JSON.stringify(values['health-interval'])}`);
  if (!values.quiet) opts.log = (l) => process.stdout.write(`${new Date().toISOString()} ${l}\n`);

  if (isWildcard(host) && !opts.requireSecret) {
    process.stderr.write(
      `fmi rendezvous: warning: listening on every interface (${host}) without --require-secret: anyone who can reach this port can register ranks into a job or learn its ranks' addresses\n`,
    );
  }
  const server = new RendezvousServer(opts);
  const addr = await server.listen();
  process.stdout.write(`fmi rendezvous listening on ${opts.tls ? 'tls://' : ''}${addr.host}:${addr.port}\n`);

  let last = { at: performance.now(), pairings: 0 };
  const health =
    healthS > 0
      ? setInterval(() => {
          const s = server.stats();
          const now = performance.now();
          const rate = ((s.pairings - last.pairings) * 1000) / Math.max(1, now - last.at);
          last = { at: now, pairings: s.pairings };
          process.stderr.write(
            `${new Date().toISOString()} fmi rendezvous health: ${s.jobs} jobs, ${s.ranks} ranks, ${s.connections} connections, ${rate.toFixed(2)} pairings/s\n`,
          );
        }, healthS * 1000)
      : undefined;

  const sig = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.stdout.write(`fmi rendezvous: ${sig}, shutting down\n`);
  if (health) clearInterval(health);
  await server.close();
  return 0;
}

/** A non-negative integer flag (at least `min`). */
function count(v: string, flag: string, min = 1): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} needs an integer >= ${min}, got ${JSON.stringify(v)}`);
  return n;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '';
}
