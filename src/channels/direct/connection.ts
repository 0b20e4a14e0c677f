import type { Socket } from 'node:net';
import { decodeHeader, encodeHeader, HEADER_BYTES, type FrameHeader } from './frame.js';
import { readInto } from './read-into.js';
import type { Arrival, Matcher } from '../matcher.js';
import { SENT, type Envelope } from '../channel.js';
import { FmiError, PeerLostError } from '../../errors.js';
import { sameTrailer, type FrameCheck, type Integrity } from './integrity.js';

/** Payloads up to this size are copied next to their header and written once. */
const COALESCE_BYTES = 16 * 1024;
/** The reused read buffer: what the kernel may hand over per read, Node's default size. */
const STAGE_BYTES = 64 * 1024;
/** A payload with at least this much left is read straight into its destination. */
const DIRECT_BYTES = 16 * 1024;
/** Payload pieces up to this size are copied byte by byte: cheaper than the view a set() needs (~100 bytes of heap a message). */
const SMALL_COPY = 64;

/** A send whose frame the kernel has not taken all of yet. */
interface PendingSend {
  /** Its write's number: settled once that many + 1 writes called back. */
  index: number;
  resolve(): void;
  reject(e: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

/**
 * One established TCP connection to a peer: writes frames, and parses incoming
 * frames straight into the matched receive's buffer.
 *
 * Nothing is allocated per message in the steady state: reads land in one
 * reused buffer, or (a large payload whose destination stays put) in the
 * destination itself; small frames are built in one reused buffer, large
 * payloads are written from the caller's memory.
 */
export class Connection {
  readonly peer: number;
  readonly socket: Socket;
  #sendSeq = 0;
  #recvSeq = 0;
  readonly #matcher: Matcher;
  readonly #rank: number;
  readonly #onFail: (err: PeerLostError) => void;
  #failed: Error | undefined;
  /** Opt-in payload checks (integrity.ts): a trailer after every payload. */
  readonly #integrity: Integrity | undefined;
  readonly #flags: number;
  /** The running checks of the frame being sent and the one arriving. */
  readonly #scheck: FrameCheck | undefined;
  readonly #rcheck: FrameCheck | undefined;
  /** The arriving frame's trailer, as it arrives. */
  readonly #tbuf = new Uint8Array(32);
  #trailerFill = -1;

  // Reading.
  readonly #hbuf = new Uint8Array(HEADER_BYTES);
  readonly #hview = new DataView(this.#hbuf.buffer);
  readonly #h: FrameHeader = { kind: 0, ctx: 0, tag: 0, seq: 0, length: 0 };
  #headerFill = 0;
  #arrival: Arrival | undefined;
  /** Where the kernel may put the rest of the current payload (see Arrival.stable). */
  #stable: Uint8Array | undefined;
  #bodyDone = 0;
  /** The reused read buffer, when the socket reads into buffers of ours (see read-into.ts). */
  #stage: Uint8Array | undefined;
  #stageView: DataView | undefined;
  /** Whether reads may go straight into a payload's memory yet. */
  #direct = false;

  // Writing. Writes are counted; each one calls back, in order.
  #issued = 0;
  #calledBack = 0;
  #pending: PendingSend[] = [];
  readonly #wbuf = Buffer.allocUnsafeSlow(HEADER_BYTES + COALESCE_BYTES + 32);
  readonly #wview = new DataView(this.#wbuf.buffer, this.#wbuf.byteOffset, this.#wbuf.byteLength);
  /** The last frame's view of #wbuf: the next frame of that length (a loop of one collective) reuses it. */
  #wframe: Buffer = this.#wbuf.subarray(0, 0);
  /** #wbuf is the kernel's until this many writes called back. */
  #wbufBusyUntil = 0;
  readonly #head = Buffer.allocUnsafeSlow(HEADER_BYTES);
  readonly #headView = new DataView(this.#head.buffer, this.#head.byteOffset, HEADER_BYTES);
  #headBusyUntil = 0;

  constructor(rank: number, peer: number, socket: Socket, matcher: Matcher, leftover: Buffer, onEnd: (err: PeerLostError) => void, integrity?: Integrity) {
    this.#rank = rank;
    this.#integrity = integrity;
    this.#flags = integrity?.flags ?? 0;
    this.#scheck = integrity?.check(rank, peer);
    this.#rcheck = integrity?.check(peer, rank);
    this.peer = peer;
    this.socket = socket;
    this.#matcher = matcher;
    this.#onFail = onEnd;
    socket.setNoDelay(true);
    // Bytes read before the switch to our buffers (and all of them, where the switch is not possible).
    socket.on('data', (chunk: Buffer) => this.#parse(chunk, 0, chunk.byteLength));
    socket.on('error', (err) => this.#end(err));
    socket.on('close', () => this.#end(undefined));
    if (leftover.byteLength > 0) this.#parse(leftover, 0, leftover.byteLength);
    const stage = new Uint8Array(STAGE_BYTES);
    this.#stage = stage;
    this.#stageView = new DataView(stage.buffer);
    if (!readInto(socket, this.#nextRead, this.#onRead)) this.#stage = this.#stageView = undefined;
    // The first read goes to the stage: bytes Node read before the switch still
    // come as 'data' events, and a buffer chosen before them could be stale.
    this.#direct = true;
    socket.resume();
  }

  /**
   * Writes one frame. An abort before the kernel took all of it (a peer that
   * stopped reading) ends the connection: a frame cut short would corrupt the
   * stream, so the pair is lost rather than left in an unknown state.
   */
  send(env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    const s = this.socket;
    if (s.destroyed) this.#end(new Error('socket destroyed'));
    if (this.#failed) return Promise.reject(this.#failed);
    const n = payload.byteLength;
    const seq = this.#sendSeq++;
    const index = this.#issued++;
    let usedWbuf = false;
    let usedHead = false;
    if (n <= COALESCE_BYTES) {
      let buf = this.#wbuf;
      let view = this.#wview;
      if (this.#calledBack < this.#wbufBusyUntil) {
        // The kernel has not taken the last frame built in #wbuf yet (socket.write queued it).
        buf = Buffer.allocUnsafe(HEADER_BYTES + n);
        view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      } else usedWbuf = true;
      const t = this.#integrity?.trailerBytes ?? 0;
      if (buf.byteLength < HEADER_BYTES + n + t) {
        buf = Buffer.allocUnsafe(HEADER_BYTES + n + t);
        view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        usedWbuf = false;
      }
      encodeHeader(view, 0, env.kind, env.ctx, env.tag, seq, n, this.#flags);
      buf.set(payload, HEADER_BYTES);
      const c = this.#scheck;
      if (c) {
        c.start(buf.subarray(0, HEADER_BYTES));
        c.update(buf.subarray(HEADER_BYTES, HEADER_BYTES + n));
        buf.set(c.end(), HEADER_BYTES + n);
      }
      const len = HEADER_BYTES + n + t;
      let frame: Buffer;
      if (!usedWbuf) frame = buf.subarray(0, len);
      else if (this.#wframe.byteLength === len) frame = this.#wframe;
      else frame = this.#wframe = buf.subarray(0, len);
      s.write(frame, this.#afterWrite);
    } else {
      let head = this.#head;
      let view = this.#headView;
      if (this.#calledBack < this.#headBusyUntil) {
        head = Buffer.allocUnsafe(HEADER_BYTES);
        view = new DataView(head.buffer, head.byteOffset, HEADER_BYTES);
      } else usedHead = true;
      encodeHeader(view, 0, env.kind, env.ctx, env.tag, seq, n, this.#flags);
      // One writev of header and payload, from the caller's memory (no copy).
      s.cork();
      s.write(head);
      const c = this.#scheck;
      if (c) {
        s.write(payload);
        s.uncork();
        // The payload is on its way (the kernel took what it had room for):
        // its check runs meanwhile, while the peer reads and checks it.
        c.start(head);
        c.update(payload);
        s.write(Buffer.from(c.end()), this.#afterWrite);
      } else {
        s.write(payload, this.#afterWrite);
        s.uncork();
      }
    }
    if (s.errored) {
      this.#end(s.errored);
      return Promise.reject(this.#failed);
    }
    // Nothing left queued: the kernel took the whole frame, the caller may reuse its payload now.
    if (s.writableLength === 0) return SENT;
    if (usedWbuf) this.#wbufBusyUntil = index + 1;
    if (usedHead) this.#headBusyUntil = index + 1;
    return this.#queued(index, signal);
  }

  /** A send the kernel has not taken all of: settles when it has. Apart from send(), whose every call allocated these closures' scope. */
  #queued(index: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: PendingSend = { index, resolve, reject, signal, onAbort: undefined, settled: false };
      if (signal) {
        w.onAbort = () => {
          this.#settle(w, signal.reason);
          this.#end(new Error('a send was aborted before the peer took all of it'));
          this.socket.destroy();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#pending.push(w);
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

  readonly #afterWrite = (err?: Error | null): void => {
    const done = ++this.#calledBack;
    // A failed write (EPIPE, ECONNRESET) means the peer is gone: its sends fail as FMI_PEER_LOST, as its receives do.
    if (err) this.#end(err);
    const q = this.#pending;
    while (q.length > 0 && q[0]!.index < done) this.#settle(q.shift()!, err ?? undefined);
  };

  #settle(w: PendingSend, err: Error | undefined): void {
    if (w.settled) return;
    w.settled = true;
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    if (err) w.reject(err);
    else w.resolve();
  }

  /** The buffer for the socket's next read: the rest of a large payload whose memory stays put, else the stage. */
  readonly #nextRead = (): Uint8Array => {
    const st = this.#stable;
    if (this.#direct && st !== undefined && st.byteLength - this.#bodyDone >= DIRECT_BYTES) return st.subarray(this.#bodyDone);
    return this.#stage!;
  };

  readonly #onRead = (n: number, buf: Uint8Array): void => {
    if (buf === this.#stage) return this.#parse(buf, 0, n);
    // Straight into the payload's memory (never past its end: that is all #nextRead offered).
    if (this.#failed) return;
    this.#rcheck?.update(buf.subarray(0, n));
    this.#bodyDone += n;
    const a = this.#arrival!;
    if (this.#bodyDone === a.length) this.#payloadDone(a);
  };

  #parse(chunk: Uint8Array, off: number, n: number): void {
    if (this.#failed) return;
    try {
      while (off < n) {
        const a = this.#arrival;
        if (a !== undefined && this.#trailerFill >= 0) {
          const want = this.#integrity!.trailerBytes;
          const take = Math.min(want - this.#trailerFill, n - off);
          this.#tbuf.set(chunk.subarray(off, off + take), this.#trailerFill);
          this.#trailerFill += take;
          off += take;
          if (this.#trailerFill === want) this.#checkTrailer(a);
        } else if (a === undefined) {
          let view: DataView;
          let at = 0;
          if (this.#headerFill === 0 && n - off >= HEADER_BYTES && chunk === this.#stage) {
            view = this.#stageView!;
            at = off;
            off += HEADER_BYTES;
          } else {
            const take = Math.min(HEADER_BYTES - this.#headerFill, n - off);
            this.#hbuf.set(chunk.subarray(off, off + take), this.#headerFill);
            this.#headerFill += take;
            off += take;
            if (this.#headerFill < HEADER_BYTES) break;
            this.#headerFill = 0;
            view = this.#hview;
          }
          const h = decodeHeader(view, at, this.#recvSeq++, this.#h);
          if (h.flags !== this.#flags) {
            throw new FmiError('FMI_PROTOCOL', `rank ${this.peer} sends frames with flags ${h.flags}, this rank expects ${this.#flags} (every rank must use the same integrity option)`);
          }
          this.#rcheck?.start(new Uint8Array(view.buffer, view.byteOffset + at, HEADER_BYTES));
          if (h.length === 0 && !this.#integrity) {
            this.#matcher.arriveEmpty(this.peer, h.ctx, h.tag, h.kind);
            continue;
          }
          const arrival = this.#matcher.arrive(this.peer, h.ctx, h.tag, h.kind, h.length);
          if (h.length === 0) {
            this.#arrival = arrival;
            this.#payloadDone(arrival);
          } else {
            this.#arrival = arrival;
            this.#bodyDone = 0;
            this.#stable = arrival.stable;
          }
        } else {
          const take = Math.min(a.length - this.#bodyDone, n - off);
          const c = this.#rcheck;
          if (take <= SMALL_COPY && c === undefined) {
            // A small payload byte by byte: no view of the chunk made per message.
            const sink = a.sink();
            if (sink !== undefined) for (let i = 0, at = this.#bodyDone; i < take; i++) sink[at + i] = chunk[off + i]!;
          } else {
            const piece = chunk.subarray(off, off + take);
            a.sink()?.set(piece, this.#bodyDone);
            c?.update(piece);
          }
          this.#bodyDone += take;
          off += take;
          if (this.#bodyDone === a.length) this.#payloadDone(a);
        }
      }
    } catch (err) {
      this.#end(err as Error);
      this.socket.destroy();
    }
  }

  /** The payload is in: complete it, or first read its trailer. */
  #payloadDone(a: Arrival): void {
    if (this.#integrity) this.#trailerFill = 0;
    else this.#completed(a);
  }

  /**
   * Completes the arrival if its trailer matches its payload (checked piece by
   * piece as it landed); else fails it (FMI_PROTOCOL: the receive never sees
   * the bytes) and the connection, whose stream can no longer be trusted.
   */
  #checkTrailer(a: Arrival): void {
    const t = this.#integrity!.trailerBytes;
    this.#trailerFill = -1;
    if (!sameTrailer(this.#rcheck!.end(), this.#tbuf.subarray(0, t))) {
      this.#arrival = undefined;
      this.#stable = undefined;
      const what = t === 4 ? 'CRC-32' : 'HMAC';
      a.fail(new FmiError('FMI_PROTOCOL', `payload from rank ${this.peer} failed its ${what} check (${a.length} bytes): corrupted or forged`, { rank: this.#rank, peer: this.peer, channel: 'direct' }));
      throw new FmiError('FMI_PROTOCOL', `a payload failed its ${what} check`);
    }
    this.#completed(a);
  }

  #completed(a: Arrival): void {
    this.#arrival = undefined;
    this.#stable = undefined;
    a.complete();
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
    this.#stable = undefined;
    // Sends the kernel had not taken all of: they did not go out.
    for (const w of this.#pending.splice(0)) this.#settle(w, lost);
    this.#onFail(lost);
  }
}
