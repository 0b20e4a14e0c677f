import { createServer, type Server, type Socket } from 'node:net';
import { checkRequest, decodeKey, newNonce, NOT_AUTHORIZED, sameKey } from './auth.js';
import { readLines, writeLine, type ClientMessage, type Endpoint } from './protocol.js';

export interface RendezvousServerOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Drop a pairing request whose peer has not come in this long. @default 60000 */
  pairTimeoutMs?: number;
  /** Refuse jobs without a secret (every `fmi run` job has one). @default false */
  requireSecret?: boolean;
  log?: (line: string) => void;
}

interface Waiting {
  socket: Socket;
  job: string;
  from: number;
  to: number;
  priv: Endpoint[];
  timer: NodeJS.Timeout;
}

interface Job {
  ranks: Map<number, Socket>;
  size: number;
  /** The job's rendezvous key, from its first registration; none for a job without a secret. */
  verifier: Buffer | undefined;
}

type Register = Extract<ClientMessage, { t: 'register' }>;
type Pair = Extract<ClientMessage, { t: 'pair' }>;

/** A first registration waiting for its job's verifier. */
interface Enrolling {
  m: Register;
  nonce: string;
}

/**
 * The rendezvous server: tells two ranks where the other is, as FMI's TCPunch
 * server does, and tells a job's ranks when one of them is gone. It carries no
 * data.
 */
export class RendezvousServer {
  readonly #server: Server;
  readonly #opts: Required<Omit<RendezvousServerOptions, 'log'>> & { log?: (l: string) => void };
  readonly #jobs = new Map<string, Job>();
  readonly #waiting = new Map<string, Waiting>();
  readonly #sockets = new Set<Socket>();
  readonly #enrolling = new WeakMap<Socket, Enrolling>();
  #state: 'new' | 'listening' | 'closed' = 'new';

  constructor(opts: RendezvousServerOptions = {}) {
    this.#opts = { port: 0, host: '127.0.0.1', pairTimeoutMs: 60_000, requireSecret: false, ...opts };
    this.#server = createServer((s) => this.#accept(s));
  }

  async listen(): Promise<Endpoint> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.port, this.#opts.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#state = 'listening';
    return this.address();
  }

  address(): Endpoint {
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new Error('rendezvous server is not listening');
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    // Every request proves it was made for this connection's nonce.
    const nonce = newNonce();
    writeLine(socket, { t: 'challenge', nonce });
    let role: { kind: 'control'; job: string; rank: number; clean: boolean } | { kind: 'pair'; key: string } | undefined;
    const bad = (why: string) => {
      writeLine(socket, { t: 'error', message: why });
      socket.end();
    };
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#sockets.delete(socket);
      if (role?.kind === 'control') this.#unregister(role.job, role.rank, socket, role.clean);
      if (role?.kind === 'pair') {
        const w = this.#waiting.get(role.key);
        if (w?.socket === socket) {
          clearTimeout(w.timer);
          this.#waiting.delete(role.key);
        }
      }
    });
    readLines(
      socket,
      (raw) => {
        const m = raw as ClientMessage;
        if (m.t === 'register' && role === undefined) {
          if (!validJob(m.job) || !validRank(m.rank, m.size)) return bad('bad register message');
          role = { kind: 'control', job: m.job, rank: m.rank, clean: false };
          this.#register(m, nonce, socket);
        } else if (m.t === 'enroll' && role?.kind === 'control') {
          this.#enroll(m.key, socket);
        } else if (m.t === 'bye' && role?.kind === 'control') {
          role.clean = true;
        } else if (m.t === 'pair' && role === undefined) {
          if (!validJob(m.job) || !Number.isInteger(m.from) || !Number.isInteger(m.to) || m.from === m.to || m.from < 0 || m.to < 0 || !Array.isArray(m.priv)) {
            return bad('bad pair message');
          }
          const key = `${m.job}\u0000${Math.min(m.from, m.to)}\u0000${Math.max(m.from, m.to)}`;
          role = { kind: 'pair', key };
          this.#pair(key, m, nonce, socket);
        } else {
          bad(`unexpected message ${JSON.stringify(m?.t)}`);
        }
      },
      bad,
    );
  }

  /**
   * A rank joins its job. The job's first registration fixes its size and
   * whether it has a secret (the client then sends the key it proved with:
   * the job's verifier); every later one must prove the same key, agree on the
   * size and take a rank that no live connection holds.
   */
  #register(m: Register, nonce: string, socket: Socket): void {
    const { proof, ...body } = m;
    const j = this.#jobs.get(m.job);
    if (!j) {
      if (proof !== undefined) {
        this.#enrolling.set(socket, { m, nonce });
        writeLine(socket, { t: 'enroll' });
        return;
      }
      if (this.#opts.requireSecret) return refuse(socket, 'this rendezvous server requires a job secret (FMI_SECRET)');
      this.#admit(m, socket, undefined);
      return;
    }
    // A job with a secret takes only proofs of it; a job without one only requests without.
    const ok = checkRequest(j.verifier, nonce, body, proof);
    if (j.verifier ? !ok : proof !== undefined) return refuse(socket, NOT_AUTHORIZED);
    this.#admit(m, socket, j.verifier);
  }

  /** The key a job's first registration proved with becomes the job's verifier. */
  #enroll(rawKey: unknown, socket: Socket): void {
    const e = this.#enrolling.get(socket);
    this.#enrolling.delete(socket);
    const key = decodeKey(rawKey);
    const { proof, ...body } = e?.m ?? {};
    if (!e || !key || !checkRequest(key, e.nonce, body, proof)) return refuse(socket, NOT_AUTHORIZED);
    // Another rank may have enrolled the job meanwhile: then this key must be its key.
    const j = this.#jobs.get(e.m.job);
    if (j && !(j.verifier && sameKey(j.verifier, key))) return refuse(socket, NOT_AUTHORIZED);
    this.#admit(e.m, socket, key);
  }

  #admit(m: Register, socket: Socket, verifier: Buffer | undefined): void {
    const { job, rank, size } = m;
    let j = this.#jobs.get(job);
    if (!j) {
      j = { ranks: new Map(), size, verifier };
      this.#jobs.set(job, j);
    }
    if (size !== j.size) return refuse(socket, `rank ${rank} says the job has ${size} ranks, but its ranks registered before said ${j.size}`);
    // The rank's live connection stays: a second one is refused, never swapped in.
    if (j.ranks.has(rank)) return refuse(socket, `rank ${rank} of this job is already registered (a rank registers once while its connection lives)`);
    j.ranks.set(rank, socket);
    writeLine(socket, { t: 'registered' });
    // Pairing requests that came before this rank registered.
    for (const w of this.#waiting.values()) if (w.job === job && w.to === rank) writeLine(socket, { t: 'want', from: w.from });
    this.#opts.log?.(`job ${job}: rank ${rank}/${size} registered${verifier ? '' : ' (no secret)'}`);
  }

  #unregister(job: string, rank: number, socket: Socket, clean: boolean): void {
    const j = this.#jobs.get(job);
    if (!j || j.ranks.get(rank) !== socket) return;
    j.ranks.delete(rank);
    for (const other of j.ranks.values()) writeLine(other, { t: 'gone', rank, clean });
    if (j.ranks.size === 0) this.#jobs.delete(job);
    this.#opts.log?.(`job ${job}: rank ${rank} ${clean ? 'left' : 'lost'}`);
  }

  #pair(key: string, m: Pair, nonce: string, socket: Socket): void {
    const { proof, ...body } = m;
    const { job, from, to } = m;
    const j = this.#jobs.get(job);
    // No such job and a wrong proof take the same time and hear the same answer.
    const ok = checkRequest(j?.verifier, nonce, body, proof);
    if (!j || (j.verifier ? !ok : proof !== undefined)) return refuse(socket, NOT_AUTHORIZED);
    if (from >= j.size || to >= j.size) return refuse(socket, `ranks ${from} and ${to} are not both below the job's size ${j.size}`);
    const priv = m.priv.filter(validEndpoint).slice(0, 16);
    const w = this.#waiting.get(key);
    if (w && w.from === to) {
      clearTimeout(w.timer);
      this.#waiting.delete(key);
      writeLine(w.socket, { t: 'peer', pub: remote(socket), priv, you: remote(w.socket) });
      writeLine(socket, { t: 'peer', pub: remote(w.socket), priv: w.priv, you: remote(socket) });
      w.socket.end();
      socket.end();
      return;
    }
    if (w) w.socket.destroy();
    const timer = setTimeout(() => {
      this.#waiting.delete(key);
      writeLine(socket, { t: 'error', message: `rank ${to} did not come to pair within ${this.#opts.pairTimeoutMs} ms` });
      socket.end();
    }, this.#opts.pairTimeoutMs);
    timer.unref();
    this.#waiting.set(key, { socket, job, from, to, priv, timer });
    const peerControl = this.#jobs.get(job)?.ranks.get(to);
    if (peerControl) writeLine(peerControl, { t: 'want', from });
  }
}

function refuse(socket: Socket, message: string): void {
  writeLine(socket, { t: 'error', message });
  socket.end();
}

function remote(s: Socket): Endpoint {
  return { host: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), port: s.remotePort ?? 0 };
}

const validJob = (j: unknown): j is string => typeof j === 'string' && j.length > 0 && j.length <= 200;
const validRank = (r: unknown, size: unknown) =>
  Number.isInteger(r) && Number.isInteger(size) && (r as number) >= 0 && (r as number) < (size as number);
const validEndpoint = (e: unknown): e is Endpoint =>
  typeof e === 'object' && e !== null && typeof (e as Endpoint).host === 'string' && Number.isInteger((e as Endpoint).port);
