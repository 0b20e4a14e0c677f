import { FmiError } from '../errors.js';
import type { Socket } from 'node:net';

/** An address as one side saw it. */
export interface Endpoint {
  host: string;
  port: number;
}

/**
 * The rendezvous protocol: one JSON object per line.
 *
 * The server speaks first on every connection: {t:'challenge', nonce}, a fresh
 * nonce. A rank of a job with a secret adds `proof` to its request: the
 * HMAC-SHA-256 of the nonce and the request under the job's rendezvous key
 * (src/rendezvous/auth.ts); ranks of a job without a secret send none.
 *
 * Control connection (one per rank, kept open for the job's life):
 *   rank -> server  {t:'register', job, rank, size, proof?}
 *   server -> rank  {t:'enroll'}          the job is new: send its verifier
 *   rank -> server  {t:'enroll', key}     the job's rendezvous key (never the secret)
 *   server -> rank  {t:'registered'}
 *   server -> rank  {t:'want', from}      a peer asked to pair with this rank
 *   server -> rank  {t:'gone', rank, clean}  a peer's control connection ended
 *   rank -> server  {t:'bye'}             this rank is closing cleanly
 *
 * Launcher connection (optional, one per job, kept open for the job's life;
 * `fmi lambda invoke` holds one): a job with a launcher is strict: each rank
 * registers once for the job's life, never again, even after it left.
 *   launcher -> server  {t:'launch', job, size, proof?}   (enrolled as a registration)
 *   server -> launcher  {t:'registered'}, then {t:'joined', rank} per registration
 *                       and {t:'gone', rank, clean} per rank that left;
 *                       {t:'paired', rank} once per rank, the first time the server
 *                       introduces it to a peer (it is past init() and talking)
 *   launcher -> server  {t:'abort', rank}   rank will never start: the job's ranks
 *                       hear {t:'gone', rank, clean: false}, now and when they register
 *
 * Pairing connection (one per pair and side, as in TCPunch):
 *   rank -> server  {t:'pair', job, from, to, priv: Endpoint[], proof?}
 *   server -> rank  {t:'starting', rank}   the job's launcher vouches for the peer (starting
 *                   or running, it will ask in turn): no deadline runs until it is introduced
 *   server -> rank  {t:'started', rank}    no one vouches for it any more: deadlines run again
 *   server -> rank  {t:'peer', pub: Endpoint, priv: Endpoint[], you: Endpoint}   then the server closes
 * `pub` is the peer's pairing connection as the server saw it (its NAT's
 * mapping); both sides then dial each other from the port they paired from.
 * `you` is this rank's own connection as the server saw it: a port other than
 * the one it dialed from means its NAT does not keep ports, which explains a
 * failed hole punch.
 *
 * Either direction: {t:'error', message}. A refused request hears the same
 * error whatever the reason (no such job, wrong proof, no proof).
 */
export type ClientMessage =
  | { t: 'register'; job: string; rank: number; size: number; proof?: string }
  | { t: 'enroll'; key: string }
  | { t: 'bye' }
  | { t: 'launch'; job: string; size: number; proof?: string }
  | { t: 'abort'; rank: number }
  | { t: 'pair'; job: string; from: number; to: number; priv: Endpoint[]; proof?: string };

export type ServerMessage =
  | { t: 'challenge'; nonce: string }
  | { t: 'enroll' }
  | { t: 'registered' }
  | { t: 'want'; from: number }
  | { t: 'gone'; rank: number; clean: boolean }
  | { t: 'joined'; rank: number }
  | { t: 'paired'; rank: number }
  | { t: 'starting'; rank: number }
  | { t: 'started'; rank: number }
  | { t: 'peer'; pub: Endpoint; priv: Endpoint[]; you?: Endpoint }
  | { t: 'error'; message: string };

/** Longest line either side accepts, so a wrong client cannot make it buffer without end. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * Calls `onMessage` for each JSON line read from `socket`; `onBad` for junk
 * (not JSON, or a line longer than `maxLineBytes`), after which nothing more
 * is read: the socket is paused and its data dropped, so a peer that keeps
 * sending cannot make this side buffer. Lines are split on bytes (a newline
 * never occurs inside a UTF-8 sequence) and a line's pieces joined once, so
 * a long line costs linear time. Reading also stops once this side ended or
 * destroyed the socket.
 */
export function readLines(
  socket: Socket,
  onMessage: (m: unknown) => void,
  onBad: (why: string) => void,
  maxLineBytes = MAX_LINE_BYTES,
): void {
  let parts: Buffer[] = [];
  let pending = 0;
  let stopped = false;
  const stop = (why: string) => {
    stopped = true;
    parts = [];
    socket.off('data', onData);
    socket.pause();
    onBad(why);
  };
  const onData = (chunk: Buffer) => {
    let from = 0;
    while (!stopped) {
      if (socket.destroyed || socket.writableEnded) {
        stopped = true;
        socket.off('data', onData);
        return;
      }
      const nl = chunk.indexOf(0x0a, from);
      if (nl < 0) break;
      if (pending + (nl - from) > maxLineBytes) return stop('line too long');
      const line = parts.length === 0 ? chunk.subarray(from, nl) : Buffer.concat([...parts, chunk.subarray(from, nl)]);
      parts = [];
      pending = 0;
      from = nl + 1;
      let msg: unknown;
      try {
        msg = JSON.parse(line.toString('utf8'));
      } catch {
        if (line.toString('utf8').trim() === '') continue;
        return stop('not JSON');
      }
      onMessage(msg);
    }
    if (stopped || from === chunk.length) return;
    pending += chunk.length - from;
    if (pending > maxLineBytes) return stop('line too long');
    parts.push(from === 0 ? chunk : chunk.subarray(from));
  };
  socket.on('data', onData);
}

export function writeLine(socket: Socket, m: ClientMessage | ServerMessage): void {
  if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(m) + '\n');
}

/** Parses "host:port", "[v6]:port" or a bare port (host 127.0.0.1); throws FMI_CONFIG for anything else. */
export function parseEndpoint(s: string): Endpoint {
  if (typeof s !== 'string') throw new FmiError('FMI_CONFIG', `not an endpoint: ${String(s)} (want host:port)`);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s.trim());
  if (m) return checkEndpoint({ host: (m[1] ?? m[2])!, port: Number(m[3]) });
  if (/^\d+$/.test(s.trim())) return checkEndpoint({ host: '127.0.0.1', port: Number(s.trim()) });
  throw new FmiError('FMI_CONFIG', `not an endpoint: ${JSON.stringify(s)} (want host:port)`);
}

/** Checks an endpoint to dial: a host name and a port in [1, 65535] (node's own error would be a plain RangeError). */
export function checkEndpoint(e: Endpoint): Endpoint {
  const ok = typeof e === 'object' && e !== null && typeof e.host === 'string' && e.host.length > 0;
  if (!ok) throw new FmiError('FMI_CONFIG', `not an endpoint: ${JSON.stringify(e)} (want { host, port })`);
  checkPort(e.port, `port of ${e.host}`, 1);
  return e;
}

/** Checks a TCP port number: an integer in [min, 65535] (0 lets a listener take any free port). */
export function checkPort(port: unknown, what = 'port', min = 0): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < min || port > 65535) {
    throw new FmiError('FMI_CONFIG', `${what} ${typeof port === 'string' ? JSON.stringify(port) : String(port)} is not a port number (an integer in [${min}, 65535])`);
  }
  return port;
}
