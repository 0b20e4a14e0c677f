import type { Socket } from 'node:net';
import { checkRequest, NOT_AUTHORIZED } from './auth.js';
import { hangUp, remote } from './connection-caps.js';
import { notePaired, type Job } from './launcher-jobs.js';
import { writeLine, type ClientMessage, type Endpoint } from './protocol.js';

type Pair = Extract<ClientMessage, { t: 'pair' }>;

interface Waiting {
  socket: Socket;
  job: string;
  from: number;
  to: number;
  priv: Endpoint[];
  /** Unset while the job's launcher vouches for the peer (see pair). */
  timer: NodeJS.Timeout | undefined;
}

/**
 * Pairing: the first rank of a pair to ask waits (at most `pairTimeoutMs`)
 * for the other; when it comes, each hears where the other is (as TCPunch's
 * server tells them) and both connections close.
 *
 * In a job with a launcher, the launcher vouches for its ranks: one that has
 * not registered is still starting (a rank that will never come is given up
 * by `abort`), one that has will ask in turn once told `want` (if it dies,
 * its control connection ends and every rank hears `gone`). So no clock runs
 * while such a pair waits, here or at the asking rank (told `starting`); the
 * rank's clock runs again for the connection itself, once introduced (not on
 * one host: src/channels/direct/pairing.ts). 64
 * local ranks on 2 busy cores take minutes to start and to answer: any fixed
 * timeout was a guess. Without a launcher (or once it left, `unvouch`:
 * `started`), the clocks run.
 */
export class PairingDesk {
  readonly #waiting = new Map<string, Waiting>();
  readonly #pairTimeoutMs: number;
  #pairings = 0;

  constructor(pairTimeoutMs: number) {
    this.#pairTimeoutMs = pairTimeoutMs;
  }

  /** Pairs introduced since the server started. */
  get pairings(): number {
    return this.#pairings;
  }

  /** Pairing requests waiting for their peer now. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** The key of a pair's request: the same from either side. */
  static key(m: Pick<Pair, 'job' | 'from' | 'to'>): string {
    return `${m.job}\u0000${Math.min(m.from, m.to)}\u0000${Math.max(m.from, m.to)}`;
  }

  /** `rank` of `job` registered: the ranks waiting to pair with it (it is told of them). */
  registered(job: string, rank: number): number[] {
    const out: number[] = [];
    for (const w of this.#waiting.values()) if (w.job === job && w.to === rank) out.push(w.from);
    return out;
  }

  /** No one vouches any more that these ranks of `job` are starting (given up, or the launcher left): their waiters' clocks start. */
  unvouch(job: string, rank?: number): void {
    for (const w of this.#waiting.values()) {
      if (w.job !== job || w.timer !== undefined || (rank !== undefined && w.to !== rank)) continue;
      writeLine(w.socket, { t: 'started', rank: w.to });
      this.#arm(w);
    }
  }

  /** A pairing request, checked against its job (`j`: undefined when there is no such job). */
  pair(key: string, m: Pair, nonce: string, socket: Socket, j: Job | undefined): void {
    const { proof, ...body } = m;
    const { job, from, to } = m;
    // No such job and a wrong proof take the same time and hear the same answer.
    const ok = checkRequest(j?.verifier, nonce, body, proof);
    if (!j || (j.verifier ? !ok : proof !== undefined)) return hangUp(socket, NOT_AUTHORIZED);
    if (from >= j.size || to >= j.size) return hangUp(socket, `ranks ${from} and ${to} are not both in [0, ${j.size})`);
    const priv = m.priv.slice(0, 16);
    const w = this.#waiting.get(key);
    if (w && w.from === to) {
      clearTimeout(w.timer);
      this.#waiting.delete(key);
      this.#pairings++;
      writeLine(w.socket, { t: 'peer', pub: remote(socket), priv, you: remote(w.socket) });
      writeLine(socket, { t: 'peer', pub: remote(w.socket), priv: w.priv, you: remote(socket) });
      w.socket.end();
      socket.end();
      notePaired(j, from, to);
      return;
    }
    // The same rank asked again (its first request's connection not yet seen closed): the new request replaces it, timer and all.
    if (w) {
      clearTimeout(w.timer);
      w.socket.destroy();
    }
    const waiting: Waiting = { socket, job, from, to, priv, timer: undefined };
    this.#waiting.set(key, waiting);
    const vouched = j.launcher !== undefined && !j.aborted?.has(to) && !j.left?.has(to);
    if (vouched) writeLine(socket, { t: 'starting', rank: to });
    else this.#arm(waiting);
    const peerControl = j.ranks.get(to);
    if (peerControl) writeLine(peerControl, { t: 'want', from });
  }

  #arm(w: Waiting): void {
    const key = PairingDesk.key(w);
    w.timer = setTimeout(() => {
      if (this.#waiting.get(key) === w) this.#waiting.delete(key);
      writeLine(w.socket, { t: 'error', message: `rank ${w.to} did not come to pair within ${this.#pairTimeoutMs} ms` });
      w.socket.end();
    }, this.#pairTimeoutMs);
    w.timer.unref();
  }

  /** A pairing connection closed: its request, if still waiting, goes. */
  drop(key: string, socket: Socket): void {
    const w = this.#waiting.get(key);
    if (w?.socket !== socket) return;
    clearTimeout(w.timer);
    this.#waiting.delete(key);
  }

  clear(): void {
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
  }
}
