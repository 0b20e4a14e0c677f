import type { Server, Socket } from 'node:net';
import { ConnectionCaps, hangUp, serverSettings, type RendezvousServerOptions, type Settings } from './connection-caps.js';
import { newNonce } from './auth.js';
import { JobRegistry } from './job-registry.js';
import { abort, unlaunch } from './launcher-jobs.js';
import { parseClientMessage } from './messages.js';
import { PairingDesk } from './pairing-desk.js';
import { readLines, writeLine, type Endpoint } from './protocol.js';
import { serverSocket } from './transport.js';

export type { RendezvousServerOptions } from './connection-caps.js';

/** What the server holds now, and how many pairs it introduced since it started. */
export interface RendezvousStats {
  connections: number;
  jobs: number;
  ranks: number;
  /** Pairing requests waiting for their peer. */
  waiting: number;
  pairings: number;
}

/** What a connection said it is for: a rank's control connection, a pairing request, or a job's launcher. */
type Role = { kind: 'control'; job: string; rank: number; clean: boolean } | { kind: 'pair'; key: string } | { kind: 'launcher'; job: string };

/**
 * The rendezvous server: tells two ranks where the other is, as FMI's TCPunch
 * server does, and tells a job's ranks when one of them is gone. It carries no
 * data.
 *
 * It faces the network, so it trusts nothing a client sends: each line is
 * checked (messages.ts) before use, and a bad one is answered with an error
 * and closes that connection only. Connections, jobs and job sizes are capped
 * (connection-caps.ts) and a connection that does not say what it is for is
 * dropped, so no client can exhaust the server's memory or sockets. Who
 * belongs to which job is job-registry.ts; pairing, pairing-desk.ts; a job's
 * launcher, launcher-jobs.ts.
 */
export class RendezvousServer {
  readonly #server: Server;
  readonly #opts: Settings;
  readonly #caps: ConnectionCaps;
  readonly #jobs: JobRegistry;
  readonly #desk: PairingDesk;
  #state: 'new' | 'listening' | 'closed' = 'new';

  constructor(opts: RendezvousServerOptions = {}) {
    const o = serverSettings(opts);
    this.#opts = o;
    this.#caps = new ConnectionCaps(o);
    this.#desk = new PairingDesk(o.pairTimeoutMs);
    this.#jobs = new JobRegistry({ ...o, registered: (job, rank) => this.#desk.registered(job, rank) });
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
    return { connections: this.#caps.size, ...this.#jobs.counts(), waiting: this.#desk.waiting, pairings: this.#desk.pairings };
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#desk.clear();
    this.#jobs.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#caps.destroyAll();
    await closed;
  }

  #accept(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    const address = socket.remoteAddress ?? '';
    if (this.#state !== 'listening') return void socket.destroy();
    if (!this.#caps.admit(socket, address)) return;
    socket.setNoDelay(true);
    // Every request proves it was made for this connection's nonce.
    const nonce = newNonce();
    writeLine(socket, { t: 'challenge', nonce });
    let role: Role | undefined;
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
      this.#caps.release(socket, address);
      if (role?.kind === 'control') this.#jobs.unregister(role.job, role.rank, socket, role.clean);
      if (role?.kind === 'launcher') {
        const j = this.#jobs.get(role.job);
        if (j && unlaunch(j, socket)) this.#jobs.forget(role.job);
        // No launcher vouches any more for the ranks it was starting.
        if (j && !j.launcher) this.#desk.unvouch(role.job);
      }
      if (role?.kind === 'pair') this.#desk.drop(role.key, socket);
    });
    readLines(
      socket,
      (raw) => {
        const m = parseClientMessage(raw);
        if (typeof m === 'string') return bad(`bad message: ${m}`);
        if ((m.t === 'register' || m.t === 'launch') && role === undefined) {
          const refused = this.#jobs.check(m.job, m.size);
          if (refused) return bad(refused);
          settle();
          role = m.t === 'register' ? { kind: 'control', job: m.job, rank: m.rank, clean: false } : { kind: 'launcher', job: m.job };
          this.#jobs.register(m, nonce, socket);
        } else if (m.t === 'abort' && role?.kind === 'launcher') {
          const j = this.#jobs.get(role.job);
          if (j?.launcher === socket) {
            abort(j, role.job, m.rank, socket, this.#opts.log);
            this.#desk.unvouch(role.job, m.rank);
          }
        } else if (m.t === 'enroll' && (role?.kind === 'control' || role?.kind === 'launcher')) {
          this.#jobs.enroll(m.key, socket);
        } else if (m.t === 'bye' && role?.kind === 'control') {
          role.clean = true;
        } else if (m.t === 'pair' && role === undefined) {
          const size = this.#opts.maxRanksPerJob;
          // As for a registration: the job's own size is checked after the proof.
          if (m.from >= size || m.to >= size) return bad(`ranks ${m.from} and ${m.to} are not both in [0, ${size})`);
          settle();
          role = { kind: 'pair', key: PairingDesk.key(m) };
          this.#desk.pair(role.key, m, nonce, socket, this.#jobs.get(m.job));
        } else {
          bad(`unexpected message ${JSON.stringify(m.t)}`);
        }
      },
      bad,
      this.#opts.maxLineBytes,
    );
  }
}
