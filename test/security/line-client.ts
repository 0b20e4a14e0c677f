import { connect, type Socket } from 'node:net';
import type { Endpoint } from '../../src/index.js';

/** What a raw client saw: the lines the server sent, and whether it closed the connection. */
export interface Heard {
  lines: Record<string, unknown>[];
  closed: boolean;
}

export interface RawClient {
  socket: Socket;
  /** Lines so far. */
  lines: Record<string, unknown>[];
  /** Resolves once the server sent a line for which `pred` holds (or rejects after `ms`). */
  waitFor(pred: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** Resolves when the connection is closed, or after `ms` with `closed: false`. */
  closed(ms?: number): Promise<Heard>;
}

/**
 * A client that speaks the rendezvous protocol by hand: raw bytes out, JSON
 * lines in. With `allowHalfOpen` it goes on writing after the server ended its
 * side, as a hostile client would.
 */
export function rawClient(ep: Endpoint, opts: { localAddress?: string; allowHalfOpen?: boolean } = {}): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ep.host, port: ep.port, localAddress: opts.localAddress, allowHalfOpen: opts.allowHalfOpen });
    const lines: Record<string, unknown>[] = [];
    let pending = '';
    let isClosed = false;
    const listeners = new Set<() => void>();
    const poke = () => {
      for (const l of [...listeners]) l();
    };
    socket.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const m = JSON.parse(pending.slice(0, nl)) as Record<string, unknown>;
        // The server's greeting on every connection (its nonce); the replies are what these tests read.
        if (m.t !== 'challenge') lines.push(m);
        pending = pending.slice(nl + 1);
      }
      poke();
    });
    // A server that hangs up while we write makes a reset: that is a close too.
    socket.on('error', () => {});
    socket.on('close', () => {
      isClosed = true;
      poke();
    });
    socket.once('connect', () =>
      resolve({
        socket,
        lines,
        waitFor: (pred, ms = 5000) =>
          new Promise((res, rej) => {
            const check = () => {
              const m = lines.find(pred);
              if (m) {
                listeners.delete(check);
                clearTimeout(t);
                res(m);
              } else if (isClosed) {
                listeners.delete(check);
                clearTimeout(t);
                rej(new Error(`closed without the expected line; got ${JSON.stringify(lines)}`));
              }
            };
            const t = setTimeout(() => {
              listeners.delete(check);
              rej(new Error(`no expected line within ${ms} ms; got ${JSON.stringify(lines)}`));
            }, ms);
            listeners.add(check);
            check();
          }),
        closed: (ms = 5000) =>
          new Promise((res) => {
            const check = () => {
              if (!isClosed) return;
              listeners.delete(check);
              clearTimeout(t);
              res({ lines, closed: true });
            };
            const t = setTimeout(() => {
              listeners.delete(check);
              res({ lines, closed: false });
            }, ms);
            listeners.add(check);
            check();
          }),
      }),
    );
    socket.once('error', reject);
  });
}

/** Sends `bytes` on a new connection and returns what the server answered before closing (or within `ms`). */
export async function exchange(ep: Endpoint, bytes: string | Buffer, ms = 5000): Promise<Heard> {
  const c = await rawClient(ep);
  c.socket.write(bytes);
  const heard = await c.closed(ms);
  c.socket.destroy();
  return heard;
}

/** Registers `rank` of a job of `size` ranks by hand; resolves once the server answered (registered or error). */
export async function registerRaw(ep: Endpoint, job: string, rank = 0, size = 2): Promise<RawClient> {
  const c = await rawClient(ep);
  c.socket.write(JSON.stringify({ t: 'register', job, rank, size }) + '\n');
  await c.waitFor((m) => m.t === 'registered' || m.t === 'error');
  return c;
}
