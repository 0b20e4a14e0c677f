// Ping-pong over a bare Node TCP socket on loopback, between two processes:
// the floor for fmi's direct channel (same sizes, same timing as pingpong.mjs).
//   node bench/raw-pingpong.mjs
//
// Frames are a 4-byte little-endian length and the payload. Both sides parse
// into a preallocated buffer and write from preallocated buffers (payloads up
// to 16 KiB are copied next to their header and written once; larger ones go
// out as header + payload in one corked write), so nothing is allocated per
// message: what is left is Node's socket path and the event loop.
// stdout: one JSON line per size, see bench/README.md.

import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PINGPONG_SIZES, emit, fillPattern, itersFor, mbPerS, warmupMsFor, sizesFrom, summarize } from './lib/common.mjs';

const HEADER = 4;
const COALESCE = 16 * 1024;

/** A frame reader/writer over one socket; calls onFrame(length) when a whole frame sits in `rbuf`. */
class Framer {
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
      if (this.done === this.len) {
        const len = this.len;
        this.len = -1;
        this.onFrame(len);
      }
    }
  }
}

const sizes = sizesFrom(PINGPONG_SIZES);
const maxBytes = Math.max(...sizes);

if (process.argv[2] === '--echo') {
  // The echo side: send every frame straight back.
  const socket = connect({ host: '127.0.0.1', port: Number(process.argv[3]) });
  const f = new Framer(socket, maxBytes, (len) => f.write(f.rbuf.subarray(0, len)));
  socket.on('error', () => process.exit(0));
  socket.on('close', () => process.exit(0));
} else {
  await measure();
}

async function measure() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--echo', String(server.address().port)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: process.env,
  });
  const socket = await new Promise((resolve) => server.once('connection', resolve));
  server.close();
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
    let n = 1;
    let per = 0;
    for (let spent = 0; ; n *= 2) {
      const t0 = performance.now();
      await batch(n);
      const dt = performance.now() - t0;
      spent += dt;
      per = dt / n;
      if (spent >= warmupMsFor(bytes === sizes[0]) && n >= 4) break;
    }
    const iters = itersFor(per);
    const samples = new Float64Array(iters);
    await batch(iters, samples);
    if (lastLen !== bytes || Buffer.compare(f.rbuf.subarray(0, bytes), sbuf) !== 0) throw new Error(`raw-pingpong: bad echo at ${bytes} bytes`);
    const s = summarize(samples, iters, 0.5);
    emit({ bench: 'pingpong', impl: 'raw-socket', channel: 'tcp-loopback', ranks: 2, bytes, iters, ...s, mb_s: mbPerS(bytes, s.p50_us), variant: 'u8' });
  }
  socket.end();
  await new Promise((resolve) => child.once('exit', resolve));
}
