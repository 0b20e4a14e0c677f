import { createServer, type Server, type Socket } from 'node:net';
import { readLines, writeLine, type ClientMessage, type Endpoint } from './protocol.js';

export interface RendezvousServerOptions {
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Drop a pairing request whose peer has not come in this long. @default 60000 */
  pairTimeoutMs?: number;
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
  #state: 'new' | 'listening' | 'closed' = 'new';

  constructor(opts: RendezvousServerOptions = {}) {
    this.#opts = { port: 0, host: '127.0.0.1', pairTimeoutMs: 60_000, ...opts };
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
          this.#register(m.job, m.rank, m.size, socket);
        } else if (m.t === 'bye' && role?.kind === 'control') {
          role.clean = true;
        } else if (m.t === 'pair' && role === undefined) {
          if (!validJob(m.job) || !Number.isInteger(m.from) || !Number.isInteger(m.to) || m.from === m.to || m.from < 0 || m.to < 0 || !Array.isArray(m.priv)) {
            return bad('bad pair message');
          }
          const key = `${m.job}\u0000${Math.min(m.from, m.to)}\u0000${Math.max(m.from, m.to)}`;
          role = { kind: 'pair', key };
          this.#pair(key, m.job, m.from, m.to, m.priv.filter(validEndpoint).slice(0, 16), socket);
        } else {
          bad(`unexpected message ${JSON.stringify(m?.t)}`);
        }
      },
      bad,
    );
  }

  #register(job: string, rank: number, size: number, socket: Socket): void {
    let j = this.#jobs.get(job);
    if (!j) {
      j = { ranks: new Map(), size };
      this.#jobs.set(job, j);
    }
    j.ranks.get(rank)?.destroy();
    j.ranks.set(rank, socket);
    writeLine(socket, { t: 'registered' });
    // Pairing requests that came before this rank registered.
    for (const w of this.#waiting.values()) if (w.job === job && w.to === rank) writeLine(socket, { t: 'want', from: w.from });
    this.#opts.log?.(`job ${job}: rank ${rank}/${size} registered`);
  }

  #unregister(job: string, rank: number, socket: Socket, clean: boolean): void {
    const j = this.#jobs.get(job);
    if (!j || j.ranks.get(rank) !== socket) return;
    j.ranks.delete(rank);
    for (const other of j.ranks.values()) writeLine(other, { t: 'gone', rank, clean });
    if (j.ranks.size === 0) this.#jobs.delete(job);
    this.#opts.log?.(`job ${job}: rank ${rank} ${clean ? 'left' : 'lost'}`);
  }

  #pair(key: string, job: string, from: number, to: number, priv: Endpoint[], socket: Socket): void {
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

function remote(s: Socket): Endpoint {
  return { host: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), port: s.remotePort ?? 0 };
}

const validJob = (j: unknown): j is string => typeof j === 'string' && j.length > 0 && j.length <= 200;
const validRank = (r: unknown, size: unknown) =>
  Number.isInteger(r) && Number.isInteger(size) && (r as number) >= 0 && (r as number) < (size as number);
const validEndpoint = (e: unknown): e is Endpoint =>
  typeof e === 'object' && e !== null && typeof (e as Endpoint).host === 'string' && Number.isInteger((e as Endpoint).port);
