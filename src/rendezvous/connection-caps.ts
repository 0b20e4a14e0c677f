import type { Socket } from 'node:net';
import { FmiError } from '../errors.js';
import { checkPort, MAX_LINE_BYTES, writeLine, type Endpoint } from './protocol.js';
import type { ServerTls } from './transport.js';

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

export type Limits = Required<Omit<RendezvousServerOptions, 'log' | 'requireSecret' | 'tls'>>;
export type Settings = Limits & Pick<RendezvousServerOptions, 'log' | 'requireSecret' | 'tls'>;

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

/** The options with their defaults, checked: FMI_CONFIG names the bad one. */
export function serverSettings(opts: RendezvousServerOptions): Settings {
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
  return o;
}

/**
 * The server's open connections, counted in all and per remote address, so
 * that no client (or one host) can take every socket the server may hold.
 */
export class ConnectionCaps {
  readonly #sockets = new Set<Socket>();
  readonly #perAddress = new Map<string, number>();
  readonly #o: Pick<Settings, 'maxConnections' | 'maxConnectionsPerAddress' | 'log'>;

  constructor(o: Pick<Settings, 'maxConnections' | 'maxConnectionsPerAddress' | 'log'>) {
    this.#o = o;
  }

  get size(): number {
    return this.#sockets.size;
  }

  /** Counts the connection in, or refuses it (answered with an error and closed): false then. */
  admit(socket: Socket, address: string): boolean {
    const fromAddress = this.#perAddress.get(address) ?? 0;
    if (this.#sockets.size >= this.#o.maxConnections || fromAddress >= this.#o.maxConnectionsPerAddress) {
      const which = this.#sockets.size >= this.#o.maxConnections ? `${this.#o.maxConnections} in all` : `${this.#o.maxConnectionsPerAddress} from ${address}`;
      this.#o.log?.(`refused a connection from ${address}: ${which}`);
      hangUp(socket, `too many connections (${which}); try again later`);
      return false;
    }
    this.#sockets.add(socket);
    this.#perAddress.set(address, fromAddress + 1);
    return true;
  }

  /** The connection closed. */
  release(socket: Socket, address: string): void {
    if (!this.#sockets.delete(socket)) return;
    const n = (this.#perAddress.get(address) ?? 1) - 1;
    if (n > 0) this.#perAddress.set(address, n);
    else this.#perAddress.delete(address);
  }

  destroyAll(): void {
    for (const s of this.#sockets) s.destroy();
  }
}

/** The other end of a connection as this side sees it (an IPv4-mapped address as plain IPv4). */
export function remote(s: Socket): Endpoint {
  return { host: (s.remoteAddress ?? '').replace(/^::ffff:/, ''), port: s.remotePort ?? 0 };
}

/** Answers with an error line and closes; what the client sends meanwhile is not read. */
export function hangUp(socket: Socket, why: string): void {
  if (socket.destroyed || socket.writableEnded) return;
  writeLine(socket, { t: 'error', message: why });
  socket.pause();
  socket.end(() => socket.destroy());
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}
