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
  timer: NodeJS.Timeout;
}

/**
 * Pairing: the first rank of a pair to ask waits (at most `pairTimeoutMs`)
 * for the other; when it comes, each hears where the other is (as TCPunch's
 * server tells them) and both connections close.
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

  /** The key of a pair's request: the same from either side. */
  static key(m: Pair): string {
    return `${m.job}\u0000${Math.min(m.from, m.to)}\u0000${Math.max(m.from, m.to)}`;
  }

  /** The ranks waiting to pair with `rank` of `job` (it is told when it registers). */
  pendingFor(job: string, rank: number): number[] {
    const out: number[] = [];
    for (const w of this.#waiting.values()) if (w.job === job && w.to === rank) out.push(w.from);
    return out;
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
    if (w) w.socket.destroy();
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      writeLine(socket, { t: 'error', message: `rank ${to} did not come to pair within ${this.#pairTimeoutMs} ms` });
      socket.end();
    }, this.#pairTimeoutMs);
    timer.unref();
    this.#waiting.set(key, { socket, job, from, to, priv, timer });
    const peerControl = j.ranks.get(to);
    if (peerControl) writeLine(peerControl, { t: 'want', from });
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
