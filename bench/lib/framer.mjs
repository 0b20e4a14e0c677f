// The raw-socket ping-pong of bench/raw-pingpong.mjs (loopback) and
// bench/nat.mjs (across NATs): frames are a 4-byte little-endian length and
// the payload. Both sides parse into a preallocated buffer and write from
// preallocated buffers (payloads up to 16 KiB are copied next to their header
// and written once; larger ones go out as header + payload in one corked
// write), so nothing is allocated per message: what is left is Node's socket
// path and the event loop. Reads go as fmi's direct channel's do: Node's
// `onread` into a reused 64 KiB buffer, or straight into `rbuf` for the rest
// of a payload of 16 KiB or more (src/channels/direct/read-into.ts, from
// dist/: run `npm run build` first; FMI_BENCH_RAW_READ=data reads through
// 'data' events instead, Node's default).

import { readInto as readIntoOpen } from '../../dist/channels/direct/read-into.js';
import { emit, fillPattern, mbPerS, summarize, warmUp } from './common.mjs';

const HEADER = 4;
const COALESCE = 16 * 1024;
const STAGE = 64 * 1024;
const DIRECT = 16 * 1024;

/** fmi's own onread on an open socket (the same internals), unless FMI_BENCH_RAW_READ=data. */
const readInto = (socket, next, onRead) => process.env.FMI_BENCH_RAW_READ !== 'data' && readIntoOpen(socket, next, onRead);

/** A frame reader/writer over one socket; calls onFrame(length) when a whole frame sits in `rbuf`. */
export class Framer {
  constructor(socket, maxBytes, onFrame) {
    this.socket = socket;
    this.rbuf = Buffer.allocUnsafe(maxBytes);
    this.wbuf = Buffer.allocUnsafe(HEADER + Math.min(maxBytes, COALESCE));
    this.head = Buffer.allocUnsafe(HEADER);
    this.hfill = 0;
    this.len = -1;
    this.done = 0;
    this.onFrame = onFrame;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#data(chunk));
    this.stage = Buffer.allocUnsafeSlow(STAGE);
    const next = () => (this.len >= 0 && this.len - this.done >= DIRECT ? this.rbuf.subarray(this.done, this.len) : this.stage);
    readInto(socket, next, (n, buf) => {
      if (buf === this.stage) return this.#data(buf.subarray(0, n));
      this.done += n;
      if (this.done === this.len) this.#frameDone();
    });
  }

  write(payload) {
    const n = payload.byteLength;
    if (n <= COALESCE) {
      this.wbuf.writeUInt32LE(n, 0);
      this.wbuf.set(payload, HEADER);
      this.socket.write(this.wbuf.subarray(0, HEADER + n));
    } else {
      this.head.writeUInt32LE(n, 0);
      this.socket.cork();
      this.socket.write(this.head);
      this.socket.write(payload);
      this.socket.uncork();
    }
  }

  #data(chunk) {
    let off = 0;
    const n = chunk.byteLength;
    while (off < n) {
      if (this.len < 0) {
        const take = Math.min(HEADER - this.hfill, n - off);
        chunk.copy(this.head, this.hfill, off, off + take);
        this.hfill += take;
        off += take;
        if (this.hfill < HEADER) return;
        this.hfill = 0;
        this.len = this.head.readUInt32LE(0);
        this.done = 0;
        if (this.len > this.rbuf.byteLength) throw new Error(`raw-pingpong: frame of ${this.len} bytes`);
      }
      const take = Math.min(this.len - this.done, n - off);
      chunk.copy(this.rbuf, this.done, off, off + take);
      this.done += take;
      off += take;
      if (this.done === this.len) this.#frameDone();
    }
  }

  #frameDone() {
    const len = this.len;
    this.len = -1;
    this.onFrame(len);
  }
}

/** The echo side: sends every frame straight back. */
export function echo(socket, maxBytes) {
  const f = new Framer(socket, maxBytes, (len) => f.write(f.rbuf.subarray(0, len)));
}

/** The measuring side: times round trips of each size over `socket`, one result line per size. */
export async function measure(socket, sizes, channel) {
  const maxBytes = Math.max(...sizes);
  let wake;
  let lastLen = 0;
  const f = new Framer(socket, maxBytes, (len) => {
    lastLen = len;
    const w = wake;
    wake = undefined;
    w();
  });
  const roundTrip = (payload) =>
    new Promise((resolve) => {
      wake = resolve;
      f.write(payload);
    });

  for (const bytes of sizes) {
    const sbuf = Buffer.allocUnsafe(bytes);
    fillPattern(sbuf, bytes & 0xff);
    const batch = async (n, samples) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await roundTrip(sbuf);
        if (samples) samples[i] = performance.now() - t0;
      }
    };
    const { iters, warmupMs } = await warmUp(batch, bytes === sizes[0]);
    const samples = new Float64Array(iters);
    await batch(iters, samples);
    if (lastLen !== bytes || Buffer.compare(f.rbuf.subarray(0, bytes), sbuf) !== 0) throw new Error(`raw-pingpong: bad echo at ${bytes} bytes`);
    const s = summarize(samples, iters, 0.5);
    emit({ bench: 'pingpong', impl: 'raw-socket', channel, ranks: 2, bytes, iters, ...s, mb_s: mbPerS(bytes, s.p50_us), variant: 'u8', warmup_ms: Math.round(warmupMs) });
  }
}
