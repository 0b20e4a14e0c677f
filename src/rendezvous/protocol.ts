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
 * Pairing connection (one per pair and side, as in TCPunch):
 *   rank -> server  {t:'pair', job, from, to, priv: Endpoint[], proof?}
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
  | { t: 'pair'; job: string; from: number; to: number; priv: Endpoint[]; proof?: string };

export type ServerMessage =
  | { t: 'challenge'; nonce: string }
  | { t: 'enroll' }
  | { t: 'registered' }
  | { t: 'want'; from: number }
  | { t: 'gone'; rank: number; clean: boolean }
  | { t: 'peer'; pub: Endpoint; priv: Endpoint[]; you?: Endpoint }
  | { t: 'error'; message: string };

/** Longest line either side accepts, so a wrong client cannot make it buffer without end. */
const MAX_LINE = 64 * 1024;

/** Calls `onMessage` for each JSON line read from `socket`; `onBad` for junk. */
export function readLines(socket: Socket, onMessage: (m: unknown) => void, onBad: (why: string) => void): void {
  let pending = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        onBad('not JSON');
        return;
      }
      onMessage(msg);
    }
    if (pending.length > MAX_LINE) onBad('line too long');
  });
}

export function writeLine(socket: Socket, m: ClientMessage | ServerMessage): void {
  if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(m) + '\n');
}

/** Parses "host:port", "[v6]:port" or a bare port (host 127.0.0.1). */
export function parseEndpoint(s: string): Endpoint {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s.trim());
  if (m) return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
  if (/^\d+$/.test(s.trim())) return { host: '127.0.0.1', port: Number(s.trim()) };
  throw new Error(`not an endpoint: ${JSON.stringify(s)} (want host:port)`);
}
