import { connect, type Socket } from 'node:net';
import type { Endpoint } from '../../src/index.js';

/**
 * What a stranger does with the rendezvous server: connects, sends `msg` (a
 * stranger need not wait for anything), and collects every line the server
 * sends until it closes the connection or `waitMs` passes.
 */
export function askServer(server: Endpoint, msg: object, waitMs = 1500): Promise<Record<string, unknown>[]> {
  return new Promise((resolve) => {
    const s = connect(server.port, server.host);
    let text = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(
        text
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      );
    };
    const timer = setTimeout(done, waitMs);
    s.on('connect', () => s.write(JSON.stringify(msg) + '\n'));
    s.on('data', (d) => (text += d));
    s.on('close', done);
    s.on('error', () => {});
  });
}

/** The replies that matter: what is not the server's challenge. */
export const answers = (lines: Record<string, unknown>[]) => lines.filter((l) => l.t !== 'challenge');

export interface Probe {
  socket: Socket;
  /** Every byte the other side sent. */
  received(): Buffer;
  /** Resolves when the other side closed the connection (or after `ms`: false). */
  closed(ms: number): Promise<boolean>;
}

/** A raw TCP connection to `ep` that records what comes back. */
export async function probe(ep: Endpoint): Promise<Probe> {
  const socket = connect(ep.port, ep.host);
  const chunks: Buffer[] = [];
  let isClosed = false;
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  void closed.then(() => (isClosed = true));
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  return {
    socket,
    received: () => Buffer.concat(chunks),
    closed: (ms) => Promise.race([closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(isClosed), ms))]),
  };
}

/** Main's handshake, as an attacker would replay it: "FMIH" u32 rank u16 job-length job. */
export function oldHello(job: string, rank: number): Buffer {
  const j = Buffer.from(job);
  const b = Buffer.alloc(10 + j.byteLength);
  b.writeUInt32LE(0x484d4946, 0);
  b.writeUInt32LE(rank, 4);
  b.writeUInt16LE(j.byteLength, 8);
  j.copy(b, 10);
  return b;
}
