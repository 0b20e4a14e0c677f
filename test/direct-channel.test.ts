import { connect, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FmiError, init, RendezvousServer, type Communicator, type Endpoint } from '../src/index.js';
import { HEADER_BYTES, readHeader, writeHeader } from '../src/channels/direct/frame.js';
import { ByteReader, dialHandshake } from '../src/channels/direct/handshake.js';
import { deriveKeys } from '../src/rendezvous/auth.js';
import { encode } from '../src/codec.js';

const U8 = encode(new Uint8Array(0)).kind;

describe('direct - frames', () => {
  const header = (seq = 0, length = 1234) => {
    const b = Buffer.alloc(HEADER_BYTES);
    writeHeader(b, 0, { kind: 10, ctx: 3, tag: 77, seq, length });
    return b;
  };

  it('a header round-trips, lengths past 4 GiB included', () => {
    expect(readHeader(header(5), 5)).toEqual({ kind: 10, ctx: 3, tag: 77, seq: 5, length: 1234, flags: 0 });
    const big = Buffer.alloc(HEADER_BYTES);
    writeHeader(big, 0, { kind: 1, ctx: 0, tag: 0, seq: 0, length: 2 ** 33 + 5 });
    expect(readHeader(big, 0).length).toBe(2 ** 33 + 5);
  });

  it('a damaged header, or one out of sequence, is a protocol error, never data', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as FmiError).code;
      }
      return 'no error';
    };
    expect(code(() => readHeader(header(0), 1))).toBe('FMI_PROTOCOL');
    for (const byte of [0, 3, 9, 13, 21, 25, 29]) {
      const b = header();
      b[byte]! ^= 0x40;
      expect(code(() => readHeader(b, 0)), `byte ${byte}`).toBe('FMI_PROTOCOL');
    }
  });
});

/**
 * A hand-made rank 1 of a job without a secret: pairs with a real rank 0
 * through the rendezvous server, proves itself as the real ranks do, and then
 * writes raw bytes, as a broken or hostile peer of the job would.
 */
async function fakePeer(server: Endpoint, job: string): Promise<Socket> {
  const control = connect(server.port, server.host);
  control.write(JSON.stringify({ t: 'register', job, rank: 1, size: 2 }) + '\n');
  const pairing = connect(server.port, server.host);
  pairing.write(JSON.stringify({ t: 'pair', job, from: 1, to: 0, priv: [] }) + '\n');
  let text = '';
  const peer = await new Promise<{ priv: Endpoint[] }>((resolve) => {
    pairing.on('data', (d) => {
      text += d;
      for (const line of text.split('\n').slice(0, -1)) {
        const m = JSON.parse(line);
        if (m.t === 'peer') resolve(m);
      }
    });
  });
  pairing.destroy();
  const ep = peer.priv[0]!;
  const s = connect(ep.port, ep.host);
  await new Promise((r) => s.once('connect', r));
  const reader = new ByteReader(s);
  await dialHandshake(s, reader, { key: deriveKeys(job).direct, rank: 1, size: 2 }, 0);
  // Rank 0's choice of this connection.
  await reader.read(1);
  reader.detach();
  s.resume();
  (s as Socket & { control?: Socket }).control = control;
  return s;
}

/**
 * A real rank 0 paired with a hand-made rank 1 (rank 0 sends 'hi' first, so it
 * pairs); `fn` gets both. Everything is closed afterwards.
 */
async function withFakePeer(fn: (comm: Communicator, sock: Socket) => Promise<void>): Promise<void> {
  const server = new RendezvousServer();
  const addr = await server.listen();
  const job = randomUUID();
  const comm = await init({ rank: 0, size: 2, job, rendezvous: addr, env: {} });
  let sock: Socket | undefined;
  try {
    [sock] = await Promise.all([fakePeer(addr, job), comm.send('hi', 1)]);
    await fn(comm, sock);
  } finally {
    sock?.destroy();
    (sock as (Socket & { control?: Socket }) | undefined)?.control?.destroy();
    await comm.close();
    await server.close();
  }
}

describe('direct - a broken peer cannot pass off partial data', () => {
  for (const [name, write] of [
    ['a frame cut short by a closed connection', (s: Socket) => {
      const h = Buffer.alloc(HEADER_BYTES);
      writeHeader(h, 0, { kind: 2, ctx: 0, tag: 0, seq: 0, length: 100 });
      s.end(Buffer.concat([h, Buffer.alloc(10, 7)]));
    }],
    ['a garbage header', (s: Socket) => s.write(Buffer.alloc(HEADER_BYTES * 2, 0xab))],
    ['a frame out of sequence', (s: Socket) => {
      const h = Buffer.alloc(HEADER_BYTES);
      writeHeader(h, 0, { kind: 2, ctx: 0, tag: 0, seq: 1, length: 1 });
      s.write(Buffer.concat([h, Buffer.of(1)]));
    }],
  ] as const) {
    it(name, async () => {
      await withFakePeer(async (comm, sock) => {
        const pending = comm.recv(1, { timeoutMs: 10_000 });
        write(sock);
        const err = await pending.catch((e: FmiError) => e);
        expect(err).toBeInstanceOf(FmiError);
        expect(err.code).toBe('FMI_PEER_LOST');
        expect(err.peer).toBe(1);
      });
    });
  }
});

describe('direct - timeouts on an established connection', () => {
  it('a send to a peer that stopped reading times out, and the pair is then lost', async () => {
    await withFakePeer(async (comm, sock) => {
      sock.pause(); // a frozen peer: nothing is read any more
      const t0 = Date.now();
      const err = await comm.send(new Float64Array(16 << 20), 1, { timeoutMs: 500 }).catch((e: FmiError) => e);
      expect(err).toMatchObject({ code: 'FMI_TIMEOUT', peer: 1 });
      expect(Date.now() - t0).toBeLessThan(5000);
      await expect(comm.send('after', 1)).rejects.toMatchObject({ code: 'FMI_PEER_LOST' });
    });
  });

  it('a receive whose message stalls half way times out', async () => {
    await withFakePeer(async (comm, sock) => {
      const h = Buffer.alloc(HEADER_BYTES);
      writeHeader(h, 0, { kind: 2, ctx: 0, tag: 0, seq: 0, length: 1000 });
      const pending = comm.recv(1, { timeoutMs: 400 });
      sock.write(Buffer.concat([h, Buffer.alloc(100)])); // then nothing more
      await expect(pending).rejects.toMatchObject({ code: 'FMI_TIMEOUT' });
    });
  });
});

describe('direct - payloads that cannot be taken', () => {
  it('a message too large to allocate fails the receive it matched at once, typed, and the pair stays usable', async () => {
    await withFakePeer(async (comm, sock) => {
      const pending = comm.recv(1, { timeoutMs: 3000 });
      const h = Buffer.alloc(HEADER_BYTES);
      // No engine allocates 2^50 bytes (2^33 succeeds lazily on Node 22+).
      writeHeader(h, 0, { kind: 2, ctx: 0, tag: 0, seq: 0, length: 2 ** 50 });
      sock.write(h);
      const t0 = Date.now();
      const err = await pending.catch((e: FmiError) => e);
      expect(err).toBeInstanceOf(FmiError);
      expect(err).toMatchObject({ code: 'FMI_CHANNEL', peer: 1 });
      expect(Date.now() - t0).toBeLessThan(5000);
      // The sender still may send (the payload would be read and dropped).
      await comm.send('still here', 1);
    });
  });

  it('a receive into a buffer that times out while its message streams in gets no more bytes written into it', async () => {
    await withFakePeer(async (comm, sock) => {
      const into = new Uint8Array(64 * 1024);
      const pending = comm.recv(1, { into, timeoutMs: 300 });
      const h = Buffer.alloc(HEADER_BYTES);
      writeHeader(h, 0, { kind: U8, ctx: 0, tag: 0, seq: 0, length: into.byteLength });
      sock.write(Buffer.concat([h, Buffer.alloc(100, 1)]));
      await expect(pending).rejects.toMatchObject({ code: 'FMI_TIMEOUT' });
      // The rest of that message, then a small one to know it was all read.
      sock.write(Buffer.alloc(into.byteLength - 100, 0xee));
      const h2 = Buffer.alloc(HEADER_BYTES);
      writeHeader(h2, 0, { kind: U8, ctx: 0, tag: 0, seq: 1, length: 1 });
      sock.write(Buffer.concat([h2, Buffer.of(7)]));
      const small = await comm.recv(1, { into: new Uint8Array(1), timeoutMs: 10_000 });
      expect(small).toEqual(Uint8Array.of(7));
      expect(into.subarray(100).every((b) => b === 0)).toBe(true);
    });
  });
});

describe('direct - rendezvous server', () => {
  it('answers junk with an error and keeps serving', async () => {
    const server = new RendezvousServer();
    const addr = await server.listen();
    const s = connect(addr.port, addr.host);
    s.write('not json\n');
    // The server speaks first (its challenge), then answers the junk.
    let text = '';
    const replies = await new Promise<unknown[]>((r) => {
      s.on('data', (d) => {
        text += d;
        if (text.split('\n').length > 2) r(text.split('\n').slice(0, 2).map((l) => JSON.parse(l)));
      });
    });
    expect(replies).toMatchObject([{ t: 'challenge' }, { t: 'error' }]);
    const job = randomUUID();
    const comms = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, rendezvous: addr, env: {} })));
    await Promise.all(comms.map((c) => c.barrier()));
    await Promise.all(comms.map((c) => c.close()));
    await server.close();
  });

  it('two jobs on one server do not mix, even with the same ranks', async () => {
    const server = new RendezvousServer();
    const addr = await server.listen();
    const jobs = [randomUUID(), randomUUID()];
    const comms = await Promise.all(jobs.flatMap((job) => [0, 1].map((rank) => init({ rank, size: 2, job, rendezvous: addr, env: {} }))));
    const got = await Promise.all(comms.map((c, i) => c.bcast(c.rank === 0 ? `job ${i >> 1}` : undefined, 0)));
    expect(got).toEqual(['job 0', 'job 0', 'job 1', 'job 1']);
    await Promise.all(comms.map((c) => c.close()));
    await server.close();
  });

  it('an unreachable rendezvous server is FMI_CHANNEL at init, and a peer that never comes is a timeout', async () => {
    const server = new RendezvousServer();
    const addr = await server.listen();
    const comm = await init({ rank: 0, size: 2, job: randomUUID(), rendezvous: addr, env: {}, connectTimeoutMs: 300 });
    const err = await comm.send('x', 1).catch((e: FmiError) => e);
    expect(err).toMatchObject({ code: 'FMI_CHANNEL', peer: 1 });
    await comm.close();
    await server.close();
  });
});
