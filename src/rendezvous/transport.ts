import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer as tcpServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { isIP } from 'node:net';
import { FmiError } from '../errors.js';
import { parseEndpoint, type Endpoint } from './protocol.js';

/**
 * How ranks reach the rendezvous server: plain TCP, or TLS for operators who
 * want the control traffic (job ids, ranks, endpoints, the job's rendezvous
 * key) encrypted and the server authenticated. Only the transport changes:
 * the same lines go over either. Connections between ranks are not affected.
 */

/** The rendezvous server as a rank dials it. */
export interface ServerAddress extends Endpoint {
  /** Dial with TLS and check the server's certificate against `ca` (PEM), or the system's roots without one. */
  tls?: { ca?: string | Buffer };
}

/** The server's certificate and key, PEM (file contents, not paths). */
export interface ServerTls {
  cert: string | Buffer;
  key: string | Buffer;
}

const TLS_SCHEME = 'tls://';

/**
 * Parses FMI_RENDEZVOUS: "host:port" (plain TCP) or "tls://host:port". `ca`
 * (a PEM file's path, or PEM text) is trusted for a TLS server; it is an
 * error without tls://, so that nobody believes a plain connection checked.
 */
export function parseServerAddress(s: string, ca?: string): ServerAddress {
  const tls = typeof s === 'string' && s.trim().startsWith(TLS_SCHEME);
  const at = parseEndpoint(tls ? s.trim().slice(TLS_SCHEME.length) : s);
  if (!tls) {
    if (ca !== undefined) throw new FmiError('FMI_CONFIG', `a CA for the rendezvous server is set, but its address ${JSON.stringify(s)} is not tls://host:port`);
    return at;
  }
  return { ...at, tls: { ca: ca === undefined ? undefined : readPem(ca, 'rendezvous CA') } };
}

/** PEM text as given, or the contents of the file it names. */
export function readPem(v: string, what: string): string {
  if (v.includes('-----BEGIN')) return v;
  try {
    return readFileSync(v, 'utf8');
  } catch (cause) {
    throw new FmiError('FMI_CONFIG', `cannot read the ${what} file ${JSON.stringify(v)}: ${(cause as Error).message}`, { cause });
  }
}

/** Opens a connection to the server. With TLS, writes before the handshake completes are queued; a failed check is an 'error'. */
export function dialServer(a: ServerAddress): Socket {
  if (!a.tls) return tcpConnect({ host: a.host, port: a.port });
  // Names are checked against the certificate; an IP address against its IP entries (no SNI for those).
  return tlsConnect({ host: a.host, port: a.port, ca: a.tls.ca, servername: isIP(a.host) ? undefined : a.host });
}

/** What `socket` connects to, for messages: tls:// when it is TLS. */
export function describeServer(a: ServerAddress): string {
  return `${a.tls ? TLS_SCHEME : ''}${a.host}:${a.port}`;
}

/**
 * A listening socket for the server: TCP, or TLS with `tls`, whose
 * connections reach `onConnection` once their handshake is done (one that
 * does not finish within `handshakeMs` is dropped; at most `maxConnections`
 * at once).
 */
export function serverSocket(tls: ServerTls | undefined, handshakeMs: number, maxConnections: number, onConnection: (s: Socket) => void): Server {
  if (!tls) return tcpServer(onConnection);
  try {
    const server = tlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: handshakeMs }, onConnection);
    // The server counts a connection once its handshake is done; those still in it are capped here (beyond: closed at once).
    if (Number.isFinite(maxConnections)) server.maxConnections = maxConnections;
    // A failed or timed-out handshake only reports: the socket would stay open (and count) until the client leaves.
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    return server;
  } catch (cause) {
    throw new FmiError('FMI_CONFIG', `the rendezvous server's TLS certificate or key is not usable: ${(cause as Error).message}`, { cause });
  }
}
