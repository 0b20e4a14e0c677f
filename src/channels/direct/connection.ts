import type { Socket } from 'node:net';
import { HEADER_BYTES, readHeader, writeHeader } from './frame.js';
import type { Arrival, Matcher } from '../matcher.js';
import type { Envelope } from '../channel.js';
import { PeerLostError } from '../../errors.js';

/** Payloads up to this size are copied next to their header and written once. */
const COALESCE_BYTES = 16 * 1024;

/**
 * One established TCP connection to a peer: writes frames, and parses incoming
 * frames straight into the matched receive's buffer.
 */
export class Connection {
  readonly peer: number;
  readonly socket: Socket;
  #sendSeq = 0;
  #recvSeq = 0;
  readonly #matcher: Matcher;
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #headerFill = 0;
  #arrival: Arrival | undefined;
  #bodyDone = 0;
  #failed: Error | undefined;
  readonly #onFail: (err: PeerLostError) => void;
  readonly #rank: number;

  constructor(rank: number, peer: number, socket: Socket, matcher: Matcher, leftover: Buffer, onEnd: (err: PeerLostError) => void) {
    this.#rank = rank;
    this.peer = peer;
    this.socket = socket;
    this.#matcher = matcher;
    this.#onFail = onEnd;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#end(err));
    socket.on('close', () => this.#end(undefined));
    if (leftover.byteLength > 0) this.#onData(leftover);
    socket.resume();
  }

  /**
   * Writes one frame. An abort before the kernel took all of it (a peer that
   * stopped reading) ends the connection: a frame cut short would corrupt the
   * stream, so the pair is lost rather than left in an unknown state.
   */
  send(env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.socket.destroyed) this.#end(new Error('socket destroyed'));
    if (this.#failed) return Promise.reject(this.#failed);
    const h = { kind: env.kind, ctx: env.ctx, tag: env.tag, seq: this.#sendSeq++, length: payload.byteLength };
    return new Promise<void>((resolve, reject) => {
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => {
          reject(signal.reason);
          this.#end(new Error('a send was aborted before the peer took all of it'));
          this.socket.destroy();
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
      const done = (err?: Error | null) => {
        if (onAbort) signal!.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      if (payload.byteLength <= COALESCE_BYTES) {
        const buf = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
        writeHeader(buf, 0, h);
        buf.set(payload, HEADER_BYTES);
        this.socket.write(buf, done);
        return;
      }
      const head = Buffer.allocUnsafe(HEADER_BYTES);
      writeHeader(head, 0, h);
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), done);
      this.socket.uncork();
    });
  }

  /** Flushes what was written, then closes. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
    });
  }

  #onData(chunk: Buffer): void {
    if (this.#failed) return;
    try {
      let off = 0;
      const n = chunk.byteLength;
      while (off < n) {
        const a = this.#arrival;
        if (a === undefined) {
          const take = Math.min(HEADER_BYTES - this.#headerFill, n - off);
          chunk.copy(this.#header, this.#headerFill, off, off + take);
          this.#headerFill += take;
          off += take;
          if (this.#headerFill < HEADER_BYTES) break;
          this.#headerFill = 0;
          const h = readHeader(this.#header, this.#recvSeq++);
          const arrival = this.#matcher.arrive(this.peer, h.ctx, h.tag, h.kind, h.length);
          if (h.length === 0) arrival.complete();
          else {
            this.#arrival = arrival;
            this.#bodyDone = 0;
          }
        } else {
          const take = Math.min(a.length - this.#bodyDone, n - off);
          a.target().set(chunk.subarray(off, off + take), this.#bodyDone);
          this.#bodyDone += take;
          off += take;
          if (this.#bodyDone === a.length) {
            this.#arrival = undefined;
            a.complete();
          }
        }
      }
    } catch (err) {
      this.#end(err as Error);
      this.socket.destroy();
    }
  }

  #end(err: Error | undefined): void {
    if (this.#failed) return;
    const a = this.#arrival;
    const where = a ? ` in the middle of a message (${this.#bodyDone} of ${a.length} bytes)` : '';
    const why = err ? `failed${where}: ${err.message}` : `closed${where}`;
    const lost = new PeerLostError(`connection to rank ${this.peer} ${why}`, { rank: this.#rank, peer: this.peer, channel: 'direct', cause: err });
    this.#failed = lost;
    a?.fail(lost);
    this.#arrival = undefined;
    this.#onFail(lost);
  }
}
