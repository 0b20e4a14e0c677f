import type { Socket } from 'node:net';
import { hangUp } from './connection-caps.js';
import { writeLine, type ServerMessage } from './protocol.js';

/** A job as the server holds it: its ranks' control connections, and its launcher's, if it has one. */
export interface Job {
  ranks: Map<number, Socket>;
  size: number;
  /** The job's rendezvous key, from its first registration; none for a job without a secret. */
  verifier: Buffer | undefined;
  /** The launcher's connection, if the job has one (`fmi lambda invoke`). */
  launcher?: Socket;
  /**
   * The job has had a launcher: each rank registers once. A rank that did is
   * in `ranks` while it lives and in `left` after, so those two say who ran.
   */
  launched?: boolean;
  /** With a launcher: the ranks it gave up; they may not register. */
  aborted?: Set<number>;
  /** The ranks that left, and whether cleanly; a rank registering later hears of them. Without a launcher a rank that comes back is taken out. */
  left?: Map<number, boolean>;
  /** With a launcher: the ranks the server introduced to a peer at least once (told to the launcher once each). */
  paired?: Set<number>;
}

type Log = ((line: string) => void) | undefined;

/**
 * A launcher takes its job: from then on each rank registers once, and the
 * launcher hears who joined, paired and left. A launcher that comes back
 * (after its connection dropped) keeps what the job's first one knew.
 */
export function launch(j: Job, id: string, socket: Socket, log: Log): void {
  if (j.launcher) return hangUp(socket, 'this job already has a launcher');
  j.launcher = socket;
  j.launched = true;
  j.aborted ??= new Set();
  j.left ??= new Map();
  j.paired ??= new Set();
  writeLine(socket, { t: 'registered' });
  for (const r of j.ranks.keys()) writeLine(socket, { t: 'joined', rank: r });
  for (const r of j.paired) writeLine(socket, { t: 'paired', rank: r });
  log?.(`job ${id}: launcher registered`);
}

/** The launcher gives a rank up (it could not be started, or its invocation failed): the others fail at once. */
export function abort(j: Job, id: string, rank: number, socket: Socket, log: Log): void {
  if (j.launcher !== socket) return;
  if (rank >= j.size) return hangUp(socket, `rank ${rank} is not in [0, ${j.size})`);
  j.aborted?.add(rank);
  for (const [r, other] of j.ranks) if (r !== rank) writeLine(other, { t: 'gone', rank, clean: false });
  log?.(`job ${id}: rank ${rank} given up by the launcher`);
}

/** The launcher's connection ended; whether the job is left with nothing (then it is forgotten). */
export function unlaunch(j: Job, socket: Socket): boolean {
  if (j.launcher !== socket) return false;
  j.launcher = undefined;
  return j.ranks.size === 0;
}

/** The server introduced `from` and `to` to each other: the launcher hears of each rank's first pairing. */
export function notePaired(j: Job, from: number, to: number): void {
  if (!j.paired) return;
  for (const r of [from, to]) {
    if (j.paired.has(r)) continue;
    j.paired.add(r);
    tellLauncher(j, { t: 'paired', rank: r });
  }
}

export function tellLauncher(j: Job, m: ServerMessage): void {
  if (j.launcher) writeLine(j.launcher, m);
}
