import type { Server, Socket } from 'node:net';
import { FmiError } from '../errors.js';
import { checkRequest, decodeKey, newNonce, NOT_AUTHORIZED, sameKey } from './auth.js';
import { parseClientMessage } from './messages.js';
import { checkPort, MAX_LINE_BYTES, readLines, writeLine, type ClientMessage, type Endpoint } from './protocol.js';
import { serverSocket, type ServerTls } from './transport.js';

export interface RendezvousServerOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Drop a pairing request whose peer has not come in this long. @default 60000 */
  pairTimeoutMs?: number;
  /** Close a connection that has neither registered nor asked to pair this long after it opened. @default 10000 */
  idleTimeoutMs?: number;
  /** Most connections open at once; more are refused with an error line. @default 10000 */
  maxConnections?: number;
  /**
   * Most connections open at once from one remote address. A job's ranks on
   * one host hold one control connection each, and up to one pairing
   * connection per pair while they connect. @default 1000
   */
  maxConnectionsPerAddress?: number;
  /** Most jobs registered at once. @default 1000 */
  maxJobs?: number;
  /** Largest job (its size) a rank may register for. @default 10000 */
  maxRanksPerJob?: number;
  /** Longest line a client may send. @default 65536 */
  maxLineBytes?: number;
  /** Refuse ranks that do not prove they know their job's secret. @default false */
  requireSecret?: boolean;
  /** Speak TLS with this certificate and key (PEM); ranks then dial `tls://host:port`. @default plain TCP */
  tls?: ServerTls;
  log?: (line: string) => void;
}

/** What the server holds now, and how many pairs it introduced since it started. */
export interface RendezvousStats {
  connections: number;
  jobs: number;
  ranks: number;
  pairings: number;
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

type Limits = Required<Omit<RendezvousServerOptions, 'log' | 'requireSecret' | 'tls'>>;

const DEFAULTS: Limits = {
  port: 0,
  host: '127.0.0.1',
  pairTimeoutMs: 60_000,
  idleTimeoutMs: 10_000,
  maxConnections: 10_000,
  maxConnectionsPerAddress: 1000,
  maxJobs: 1000,
  maxRanksPerJob: 10_000,
  maxLineBytes: MAX_LINE_BYTES,
};

/** How long a closed connection may take to flush its last line before it is destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * The rendezvous server: tells two ranks where the other is, as FMI's TCPunch
 * server does, and tells a job's ranks when one of them is gone. It carries no
 * data.
 *
 * It faces the network, so it trusts nothing a client sends: each line is
 * checked (messages.ts) before use, and a bad one is answered with an error
 * and closes that connection only. Connections, jobs and job sizes are capped
 * and a connection that does not say what it is for is dropped, so no client
 * can exhaust the server's memory or sockets.
 */
export class RendezvousServer {
  readonly #server: Server;
  readonly #opts: Limits & Pick<RendezvousServerOptions, 'log' | 'requireSecret' | 'tls'>;
  readonly #jobs = new Map<string, Job>();
  readonly #waiting = new Map<string, Waiting>();
  readonly #sockets = new Set<Socket>();
  readonly #perAddress = new Map<string, number>();
  #pairings = 0;
  readonly #enrolling = new WeakMap<Socket, Enrolling>();
  #state: 'new' | 'listening' | 'closed' = 'new';

  constructor(opts: RendezvousServerOptions = {}) {
    const o = { ...DEFAULTS, ...opts };
    for (const k of Object.keys(DEFAULTS) as (keyof Limits)[]) if (o[k] === undefined) (o as Record<string, unknown>)[k] = DEFAULTS[k];
    checkPort(o.port, 'rendezvous port');
    if (typeof o.host !== 'string' || o.host === '') throw new FmiError('FMI_CONFIG', `rendezvous host ${JSON.stringify(o.host)} is not a host name`);
    for (const k of ['pairTimeoutMs', 'idleTimeoutMs', 'maxConnections', 'maxConnectionsPerAddress', 'maxJobs', 'maxRanksPerJob', 'maxLineBytes'] as const) {
      const v = o[k];
      if (typeof v !== 'number' || !(v >= 1) || (v !== Infinity && !Number.isInteger(v))) {
        throw new FmiError('FMI_CONFIG', `rendezvous option ${k} must be a positive integer, got ${String(v)}`);
      }
    }
    this.#opts = o;
    // A TLS handshake that drags on is an idle connection too.
    this.#server = serverSocket(o.tls, o.idleTimeoutMs, o.maxConnections, (s) => this.#accept(s));
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

  stats(): RendezvousStats {
    let ranks = 0;
    for (const j of this.#jobs.values()) ranks += j.ranks.size;
    return { connections: this.#sockets.size, jobs: this.#jobs.size, ranks, pairings: this.#pairings };
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    for (const w of this.#waiting.values()) clearTimeout(w.timer);
    this.#waiting.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (this.#state !== 'listening') return void socket.destroy();
    if (this.#sockets.size >= this.#opts.maxConnections || fromAddress >= this.#opts.maxConnectionsPerAddress) {
      const which = this.#sockets.size >= this.#opts.maxConnections ? `${this.#opts.maxConnections} in all` : `${this.#opts.maxConnectionsPerAddress} from ${address}`;
      this.#opts.log?.(`refused a connection from ${address}: ${which}`);
      return hangUp(socket, `too many connections (${which}); try again later`);
    }
    this.#sockets.add(socket);
    this.#perAddress.set(address, fromAddress + 1);
    socket.setNoDelay(true);
    // Every request proves it was made for this connection's nonce.
    const nonce = newNonce();
    writeLine(socket, { t: 'challenge', nonce });
    let role: { kind: 'control'; job: string; rank: number; clean: boolean } | { kind: 'pair'; key: string } | undefined;
    // Until it says what it is for, a connection only costs: it may not stay.
    let idle: NodeJS.Timeout | undefined = setTimeout(() => bad(`nothing asked within ${this.#opts.idleTimeoutMs} ms`), this.#opts.idleTimeoutMs);
    idle.unref();
    const settle = () => {
      clearTimeout(idle);
      idle = undefined;
    };
    const bad = (why: string) => {
      settle();
      hangUp(socket, why);
    };
    socket.on('close', () => {
      settle();
      this.#sockets.delete(socket);
      const n = (this.#perAddress.get(address) ?? 1) - 1;
      if (n > 0) this.#perAddress.set(address, n);
      else this.#perAddress.delete(address);
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
        const m = parseClientMessage(raw);
        if (typeof m === 'string') return bad(`bad message: ${m}`);
        if (m.t === 'register' && role === undefined) {
          const refused = this.#checkRegister(m.job, m.size);
          if (refused) return bad(refused);
          settle();
          role = { kind: 'control', job: m.job, rank: m.rank, clean: false };
          this.#register(m, nonce, socket);
        } else if (m.t === 'enroll' && role?.kind === 'control') {
          this.#enroll(m.key, socket);
        } else if (m.t === 'bye' && role?.kind === 'control') {
          role.clean = true;
        } else if (m.t === 'pair' && role === undefined) {
          const refused = this.#checkPair(m.from, m.to);
          if (refused) return bad(refused);
          settle();
          const key = `${m.job}\u0000${Math.min(m.from, m.to)}\u0000${Math.max(m.from, m.to)}`;
          role = { kind: 'pair', key };
          this.#pair(key, m, nonce, socket);
        } else {
          bad(`unexpected message ${JSON.stringify(m.t)}`);
        }
      },
      bad,
      this.#opts.maxLineBytes,
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
      if (this.#opts.requireSecret) return hangUp(socket, 'this rendezvous server requires a job secret (FMI_SECRET)');
      this.#admit(m, socket, undefined);
      return;
    }
    // A job with a secret takes only proofs of it; a job without one only requests without.
    const ok = checkRequest(j.verifier, nonce, body, proof);
    if (j.verifier ? !ok : proof !== undefined) return hangUp(socket, NOT_AUTHORIZED);
    this.#admit(m, socket, j.verifier);
  }

  /** The key a job's first registration proved with becomes the job's verifier. */
  #enroll(rawKey: unknown, socket: Socket): void {
    const e = this.#enrolling.get(socket);
    this.#enrolling.delete(socket);
    const key = decodeKey(rawKey);
    const { proof, ...body } = e?.m ?? {};
    if (!e || !key || !checkRequest(key, e.nonce, body, proof)) return hangUp(socket, NOT_AUTHORIZED);
    // Another rank may have enrolled the job meanwhile: then this key must be its key.
    const j = this.#jobs.get(e.m.job);
    if (j && !(j.verifier && sameKey(j.verifier, key))) return hangUp(socket, NOT_AUTHORIZED);
    this.#admit(e.m, socket, key);
  }

  /**
   * Why this registration is refused before its proof is checked: only what
   * says nothing of the job (a job too large, one job too many). Whether the
   * size agrees with the job's is told only to a rank that proved the secret.
   */
  #checkRegister(job: string, size: number): string | undefined {
    if (size > this.#opts.maxRanksPerJob) return `job size ${size} is above this server's limit of ${this.#opts.maxRanksPerJob} ranks`;
    if (!this.#jobs.has(job) && this.#jobs.size >= this.#opts.maxJobs) return `too many jobs (${this.#opts.maxJobs}); try again later`;
    return undefined;
  }

  /** As #checkRegister: the job's own size is checked after the proof, in #pair. */
  #checkPair(from: number, to: number): string | undefined {
    const size = this.#opts.maxRanksPerJob;
    if (from >= size || to >= size) return `ranks ${from} and ${to} are not both in [0, ${size})`;
    return undefined;
  }

  #admit(m: Register, socket: Socket, verifier: Buffer | undefined): void {
    const { job, rank, size } = m;
    let j = this.#jobs.get(job);
    if (!j) {
      j = { ranks: new Map(), size, verifier };
      this.#jobs.set(job, j);
    }
    if (size !== j.size) return hangUp(socket, `rank ${rank} says job ${job} has ${size} ranks; its other ranks said ${j.size}`);
    // The rank's live connection stays: a second one is refused, never swapped in.
    if (j.ranks.has(rank)) return hangUp(socket, `rank ${rank} of this job is already registered (a rank registers once while its connection lives)`);
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

function remote(s: Socket): Endpoint {
  return { host: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), port: s.remotePort ?? 0 };
}

/** Answers with an error line and closes; what the client sends meanwhile is not read. */
function hangUp(socket: Socket, why: string): void {
  if (socket.destroyed || socket.writableEnded) return;
  writeLine(socket, { t: 'error', message: why });
  socket.pause();
  socket.end(() => socket.destroy());
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}
