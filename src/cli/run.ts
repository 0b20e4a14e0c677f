import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { startServerThread } from './server-thread.js';
import { newSecret } from '../rendezvous/auth.js';
import { LauncherLink } from '../rendezvous/launcher-link.js';
import { ENV } from '../comm/init.js';
import { fileURLToPath } from 'node:url';
import { isCompiledProgram } from './cc.js';
import { RANK_MAIN } from '../mpi/index.js';
import type { FmiConfig } from '../config/types.js';
import { cleanBackends } from './clean.js';
import { THREAD_HOST, THREAD_PREFIX, THREAD_RANKS } from './thread-host.js';

export interface RunOptions {
  ranks: number;
  script: string;
  args: string[];
  /** Prefix each output line with "[rank] ". @default true */
  prefix?: boolean;
  /** Extra environment for every rank. */
  env?: NodeJS.ProcessEnv;
  /** Grace time between SIGTERM and SIGKILL when stopping ranks. @default 2000 */
  killGraceMs?: number;
  /** The job's config (--config): after a failed job, what its ranks left in its Redis and S3 backends is deleted. */
  config?: FmiConfig;
  /** Ranks per process, as worker threads sharing memory (--threads); unset: one process per rank. */
  threads?: number;
}

/** A rank's stderr said this when it failed because another rank went away: its failure is not the cause. */
const LOST_PEER = /\bFMI_PEER_LOST\b/;

interface Failure {
  rank: number;
  code: number;
  /** What the launcher says about it. */
  what: string;
}

/**
 * Runs `script` as `ranks` local processes of one job, next to an embedded
 * rendezvous server. Resolves to the exit code: 0 if every rank exited 0;
 * otherwise the code of the first rank that failed on its own, after the
 * other ranks were stopped. A rank that failed because a peer was lost
 * (FMI_PEER_LOST on its stderr) is the answer only when no rank failed on its
 * own: on a loaded machine the peers of a dying rank often exit before it.
 */
export async function runLocal(o: RunOptions): Promise<number> {
  // Every job has a secret; a rank that cannot prove it is refused.
  // Every rank connects from this host: while they pair, a job of N ranks holds up to N^2 connections from one address.
  // Its only clients are this job's ranks, on this host: a rank that dialed it and waits for a CPU
  // before it can say what it wants (dozens of ranks starting on 2 cores) is no idle stranger.
  const server = await startServerThread({ host: '127.0.0.1', port: 0, requireSecret: true, maxConnectionsPerAddress: 10_000, idleTimeoutMs: 120_000 });
  const addr = server.address;
  const job = randomUUID();
  const secret = newSecret();
  // As the job's launcher the server hears from us which ranks are still starting: their
  // peers wait for them however long start-up takes, and a rank that exits before it
  // registers is given up at once (its peers fail with FMI_PEER_LOST instead of waiting).
  const joined = new Set<number>();
  const link = await LauncherLink.open({ server: addr, job, size: o.ranks, secret, onJoined: (r) => joined.add(r) });
  const children: ChildProcess[] = [];
  const grace = o.killGraceMs ?? 2000;
  let firstFailure: Failure | undefined;
  // The first rank that failed because it lost a peer, and those after it.
  let firstLostPeer: Failure | undefined;
  const lostPeer: number[] = [];
  let waitForCause: NodeJS.Timeout | undefined;
  let stopping = false;

  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    clearTimeout(waitForCause);
    process.stderr.write(`fmi run: ${why}; stopping the other ranks\n`);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, grace).unref();
  };

  // A reader that goes away (`fmi run ... | head`) must not crash the launcher.
  const ignoreEpipe = (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  };
  process.stdout.on('error', ignoreEpipe);
  process.stderr.on('error', ignoreEpipe);

  const onSignal = (sig: NodeJS.Signals) => {
    firstFailure ??= { rank: -1, code: 128 + (sig === 'SIGINT' ? 2 : 15), what: `got ${sig}` };
    stopAll(`got ${sig}`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // A C/C++ program built with `fmi cc` runs its main() in dist/mpi/rank-main.js.
  // With --threads, a process per `threads` ranks: the thread host starts them (and prefixes their lines).
  const per = o.threads ?? 1;
  const argv = o.threads ? [fileURLToPath(THREAD_HOST), o.script, ...o.args] : isCompiledProgram(o.script) ? [fileURLToPath(RANK_MAIN), o.script, ...o.args] : [o.script, ...o.args];
  const start = (at: number): Promise<void> => {
    const rank = at * per;
    const threaded = o.threads ? { [THREAD_RANKS]: `${rank},${Math.min(per, o.ranks - rank)}`, [THREAD_PREFIX]: o.prefix === false ? '0' : '1' } : { [ENV.rank]: String(rank) };
    const child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...o.env,
        ...threaded,
        [ENV.size]: String(o.ranks),
        [ENV.job]: job,
        [ENV.rendezvous]: `${addr.host}:${addr.port}`,
        // In the environment, not on the command line: other users can read a process's argv.
        [ENV.secret]: secret,
      },
    });
    children.push(child);
    const who = o.threads ? `the process of ranks ${rank}-${Math.min(o.ranks, rank + per) - 1}` : `rank ${rank}`;
    const pre = o.prefix === false || o.threads ? '' : `[${rank}] `;
    let sawLostPeer = false;
    const outDone = pipeLines(child.stdout!, process.stdout, pre);
    const errDone = pipeLines(child.stderr!, process.stderr, pre, (line) => (sawLostPeer ||= LOST_PEER.test(line)));
    return new Promise<void>((resolve) => {
      child.on('error', (err) => {
        process.stderr.write(`fmi run: ${who} could not start: ${err.message}\n`);
        for (const r of ranksOfChild(rank, per, o.ranks)) link.abort(r);
        firstFailure ??= { rank, code: 127, what: `${who} could not start` };
        stopAll(`${who} could not start`);
        resolve();
      });
      child.on('exit', (code, signal) => {
        void Promise.all([outDone, errDone]).then(() => {
          // Its ranks that never registered never will: their peers must not wait for them.
          // (After its output closed: a registration it made just before it exited has been heard by then.)
          const never = ranksOfChild(rank, per, o.ranks).filter((r) => !joined.has(r));
          for (const r of never) link.abort(r);
          const early = never.length === 0 ? '' : ` before ${per === 1 ? 'it' : never.length === 1 ? `rank ${never[0]}` : `ranks ${never[0]}-${never.at(-1)}`} registered with the rendezvous server`;
          // Killed by our own stop: not a cause.
          const stopped = stopping && signal !== null;
          if ((code !== 0 || signal) && !stopped) {
            const failure = { rank, code: code ?? 1, what: `${who} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${early}` };
            if (sawLostPeer) {
              // The rank it lost may not have exited yet: give it the grace time to, then stop the job anyway.
              lostPeer.push(rank);
              if (!firstLostPeer) {
                firstLostPeer = failure;
                waitForCause = setTimeout(() => stopAll(`${failure.what} after losing a peer (FMI_PEER_LOST), and no rank failed on its own within ${grace} ms`), grace);
              }
            } else if (!firstFailure) {
              firstFailure = failure;
              stopAll(failure.what);
            }
          }
          resolve();
        });
      });
    });
  };
  const exits: Promise<void>[] = [];
  for (let at = 0; at < Math.ceil(o.ranks / per) && !stopping; at++) {
    exits.push(start(at));
    // spawn() blocks this event loop (a fork and exec each: on 2 busy cores, up to a second):
    // the server must answer the ranks already started between two spawns, or their registration times out.
    await new Promise((resolve) => setImmediate(resolve));
  }

  await Promise.all(exits);
  clearTimeout(waitForCause);
  if (lostPeer.length > 0) {
    const whom = lostPeer.length === 1 ? `rank ${lostPeer[0]}` : `ranks ${lostPeer.join(', ')}`;
    process.stderr.write(`fmi run: ${whom} failed after losing a peer (FMI_PEER_LOST)${firstFailure ? `; the first rank that failed on its own: ${firstFailure.what}` : ''}\n`);
  }
  firstFailure ??= firstLostPeer;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  link.close();
  await server.close();
  // Ranks that died (or were stopped) did not delete their keys and objects: no rank runs now, so it is safe to.
  if (firstFailure && o.config && (o.config.backends.Redis?.enabled || o.config.backends.S3?.enabled)) {
    const say = (line: string) => process.stderr.write(`fmi run: after the failed job, ${line}\n`);
    // Bounded: a server that does not answer must not hold the launcher long after the job ended.
    await cleanBackends(o.config, job, say, say, 10_000);
  }
  if (firstFailure) return firstFailure.code === 0 ? 1 : firstFailure.code;
  return 0;
}

/** The ranks one launched process runs: `per` from `first` (one without --threads). */
function ranksOfChild(first: number, per: number, ranks: number): number[] {
  return Array.from({ length: Math.min(per, ranks - first) }, (_, i) => first + i);
}

function pipeLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, prefix: string, onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: from, crlfDelay: Infinity });
    rl.on('line', (line) => {
      onLine?.(line);
      to.write(prefix + line + '\n');
    });
    rl.on('close', () => resolve());
  });
}
