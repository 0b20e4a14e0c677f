import type { Socket } from 'node:net';
import { FmiError } from '../../errors.js';

/**
 * The first bytes on every direct connection, both ways: who is speaking.
 *   "FMIH" u32 rank u16 job-length job
 * Then the lower rank of the pair, which decides which of several candidate
 * connections (listener, hole punch, simultaneous open) becomes the pair's
 * connection, sends one byte: 1 = this one, 0 = close it.
 */
const HELLO_MAGIC = 0x484d4946; // "FMIH" little-endian
export const SELECT = 1;
export const REJECT = 0;

export function hello(job: string, rank: number): Buffer {
  const jobBytes = Buffer.from(job, 'utf8');
  const b = Buffer.alloc(10 + jobBytes.byteLength);
  b.writeUInt32LE(HELLO_MAGIC, 0);
  b.writeUInt32LE(rank, 4);
  b.writeUInt16LE(jobBytes.byteLength, 8);
  jobBytes.copy(b, 10);
  return b;
}

/** Reads exact byte counts from a socket, then hands the rest to whoever owns it next. */
export class ByteReader {
  readonly #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #ended: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.#buf = this.#buf.byteLength === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#pump();
  };
  readonly #onEnd = () => {
    this.#ended = new FmiError('FMI_CHANNEL', 'connection closed during handshake');
    this.#pump();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onEnd);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#pump();
    });
  }

  /** Stops reading; returns bytes that arrived past the handshake. */
  detach(): Buffer {
    // Paused until the next owner listens: a flowing socket with no 'data' listener drops bytes.
    this.#socket.pause();
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onEnd);
    const rest = this.#buf;
    this.#buf = Buffer.alloc(0);
    return rest;
  }

  #pump(): void {
    const w = this.#want;
    if (!w) return;
    if (this.#buf.byteLength >= w.n) {
      this.#want = undefined;
      const out = this.#buf.subarray(0, w.n);
      this.#buf = this.#buf.subarray(w.n);
      w.resolve(out);
    } else if (this.#ended) {
      this.#want = undefined;
      w.reject(this.#ended);
    }
  }
}

/** Reads the peer's hello; throws unless it is from `job`. */
export async function readHello(reader: ByteReader, job: string): Promise<number> {
  const head = await reader.read(10);
  if (head.readUInt32LE(0) !== HELLO_MAGIC) throw new FmiError('FMI_PROTOCOL', 'not an fmi peer');
  const rank = head.readUInt32LE(4);
  const jobBytes = await reader.read(head.readUInt16LE(8));
  if (jobBytes.toString('utf8') !== job) throw new FmiError('FMI_PROTOCOL', 'peer belongs to another job');
  return rank;
}
