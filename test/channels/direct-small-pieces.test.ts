import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/channels/direct/connection.js';
import { encodeHeader, HEADER_BYTES } from '../../src/channels/direct/frame.js';
import { Matcher } from '../../src/channels/matcher.js';

/**
 * Small payloads are copied into the receive byte by byte (Connection.#parse,
 * no view per message): a real Connection on one end of a loopback socket,
 * frames written on the other end in pieces of 1 to 5 bytes, each its own
 * read, so a payload lands across reads at every offset.
 */
const open: Socket[] = [];

afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise((r) => a.once('connect', r));
  const b = await accepted;
  server.close();
  a.setNoDelay(true);
  open.push(a, b);
  return [a, b];
}

function frame(seq: number, tag: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(HEADER_BYTES + payload.byteLength);
  encodeHeader(new DataView(f.buffer), 0, 11, 0, tag, seq, payload.byteLength);
  f.set(payload, HEADER_BYTES);
  return f;
}

describe('direct - small payloads split across reads', () => {
  it('payloads of 1 to 64 bytes and one of 65, dribbled in pieces of 1-5 bytes, arrive intact in their receives', async () => {
    const [writer, reader] = await socketPair();
    const m = new Matcher(1, 'direct');
    new Connection(1, 0, reader, m, Buffer.alloc(0), (err) => m.failSource(0, err));
    const sizes = [1, 2, 7, 8, 9, 31, 63, 64, 65];
    const payloads = sizes.map((n, i) => Uint8Array.from({ length: n }, (_, k) => (k * 31 + i * 7 + 1) & 0xff));
    // Receives into buffers larger than the payload, pre-filled: bytes past the payload must stay as they were.
    const intos = sizes.map((n) => new Uint8Array(n + 4).fill(0xee));
    const got = sizes.map((_, i) => m.post({ source: 0, ctx: 0, tag: i, into: intos[i] }));
    const stream = Buffer.concat(payloads.map((p, i) => frame(i, i, p)));
    for (let off = 0, k = 0; off < stream.byteLength; k++) {
      const take = Math.min(1 + (k % 5), stream.byteLength - off);
      writer.write(stream.subarray(off, off + take));
      off += take;
      // Let each piece be its own read.
      await new Promise((r) => setTimeout(r, 1));
    }
    const results = await Promise.all(got);
    for (let i = 0; i < sizes.length; i++) {
      expect(Array.from(results[i]!.data)).toEqual(Array.from(payloads[i]!));
      expect(Array.from(intos[i]!.subarray(sizes[i]!))).toEqual([0xee, 0xee, 0xee, 0xee]);
    }
  });

  it('a whole small frame in one read, back to back with the next, fills its receive', async () => {
    const [writer, reader] = await socketPair();
    const m = new Matcher(1, 'direct');
    new Connection(1, 0, reader, m, Buffer.alloc(0), (err) => m.failSource(0, err));
    const payloads = [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), Uint8Array.of(9, 10, 11)];
    const got = payloads.map((_, i) => m.post({ source: 0, ctx: 0, tag: i, into: new Uint8Array(8) }));
    writer.write(Buffer.concat(payloads.map((p, i) => frame(i, i, p))));
    const results = await Promise.all(got);
    expect(Array.from(results[0]!.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(results[1]!.data)).toEqual([9, 10, 11]);
  });
});
