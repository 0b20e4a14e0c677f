import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectChannel, RendezvousServer, type Endpoint } from '../../src/index.js';
import { HEADER_BYTES, writeHeader } from '../../src/channels/direct/frame.js';
import { ByteReader, dialHandshake } from '../../src/channels/direct/handshake.js';
import { deriveKeys } from '../../src/rendezvous/auth.js';
import { answers, askServer, oldHello, probe } from './stranger.js';

/*
 * A rank's listener as a stranger sees it: it can find the port (a port scan
 * on the rank's host), and may know the job id. Real ranks (DirectChannel over
 * a real rendezvous server), the stranger on raw sockets.
 */

const ANY = -1;
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => {});
});

/**
 * Rank 0 of a job of two with a secret, with a send to rank 1 under way: it
 * waits for rank 1 (which never comes), so a connection that passed as rank 1
 * would become the pair's.
 */
async function waitingRank(): Promise<{ ch: DirectChannel; job: string; secret: string; addr: Endpoint }> {
  const server = new RendezvousServer();
  const addr = await server.listen();
  open.push(server);
  const job = randomUUID();
  const secret = randomBytes(32).toString('base64url');
  const ch = await DirectChannel.create({ job, rank: 0, size: 2, server: addr, secret, connectTimeoutMs: 20_000 });
  open.push(ch);
  ch.send(1, { ctx: 0, tag: 0, kind: 2 }, new Uint8Array([1])).catch(() => {});
  return { ch, job, secret, addr };
}

function frame(payload: Uint8Array): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  writeHeader(h, 0, { kind: 2, ctx: 0, tag: 0, seq: 0, length: payload.byteLength });
  return Buffer.concat([h, payload]);
}

const nothingArrived = (ch: DirectChannel) => expect(ch.iprobe({ source: ANY, ctx: 0, tag: ANY })).toBeUndefined();

describe('security - a stranger at a rank\'s listener', () => {
  it('gets no job id, and its bytes never reach recv', async () => {
    const { ch, job } = await waitingRank();
    const p = await probe(ch.endpoints[0]!);
    await new Promise((r) => setTimeout(r, 100));
    // What a listener says to whoever connects: no job id, in any encoding.
    const said = p.received();
    expect(said.includes(Buffer.from(job))).toBe(false);
    expect(said.byteLength).toBeLessThanOrEqual(36);
    // Main's hello with the job id, as rank 1, then a frame.
    p.socket.write(Buffer.concat([oldHello(job, 1), frame(new TextEncoder().encode('forged'))]));
    expect(await p.closed(3000)).toBe(true);
    nothingArrived(ch);
  });

  it('a peer speaking the protocol without the secret is closed before it says a frame', async () => {
    const { ch, job } = await waitingRank();
    const p = await probe(ch.endpoints[0]!);
    const wrong = { key: deriveKeys(job, randomBytes(32).toString('base64url')).direct, rank: 1, size: 2 };
    const s = connect(ch.endpoints[0]!.port, ch.endpoints[0]!.host);
    await new Promise((r) => s.once('connect', r));
    s.on('error', () => {});
    const err = await dialHandshake(s, new ByteReader(s), wrong, 0).then(() => 'no error', (e: Error) => e.message);
    expect(err).not.toBe('no error');
    p.socket.destroy();
    nothingArrived(ch);
  });

  it('injected frames are refused, even from a rank that does not exist (rank 7 of 2) or claims the listener\'s own rank', async () => {
    const { ch, job, secret, addr } = await waitingRank();
    // An outsider cannot make rank 0 want rank 7 ...
    expect(answers(await askServer(addr, { t: 'register', job, rank: 7, size: 8 }))).toMatchObject([{ t: 'error' }]);
    // ... and not even an insider with the secret gets frames in as a rank outside the job, or as rank 0 itself.
    for (const rank of [7, 0, 2 ** 32 - 1]) {
      const s = connect(ch.endpoints[0]!.port, ch.endpoints[0]!.host);
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      const keys = { key: deriveKeys(job, secret).direct, rank, size: 2 ** 32 };
      const err = await dialHandshake(s, new ByteReader(s), keys, 0).then(() => 'no error', (e: Error) => e.message);
      expect(err, `rank ${rank}`).toContain('closed');
      s.destroy();
    }
    nothingArrived(ch);
  });

  it('a recorded handshake replayed fails', async () => {
    const { ch, job, secret } = await waitingRank();
    const ep = ch.endpoints[0]!;
    // A real rank 1's dial, through a tap that records what it says.
    const s = connect(ep.port, ep.host);
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
    const recorded: Buffer[] = [];
    const write = s.write.bind(s);
    s.write = ((b: Buffer) => (recorded.push(Buffer.from(b)), write(b))) as typeof s.write;
    await dialHandshake(s, new ByteReader(s), { key: deriveKeys(job, secret).direct, rank: 1, size: 2 }, 0);
    s.destroy();
    expect(recorded.length).toBe(2);
    // The same bytes on a new connection: the listener's nonce is new, so they prove nothing.
    const p = await probe(ep);
    p.socket.write(Buffer.concat([...recorded, frame(new Uint8Array([9]))]));
    expect(await p.closed(3000)).toBe(true);
    expect(p.received().byteLength).toBe(36); // its challenge, never its own proof
    nothingArrived(ch);
  });
});

describe('security - ranks with a secret', () => {
  it('three ranks with the secret connect every pair and exchange data', async () => {
    const server = new RendezvousServer({ requireSecret: true });
    const addr = await server.listen();
    open.push(server);
    const job = randomUUID();
    const secret = randomBytes(32).toString('base64url');
    const chs = await Promise.all([0, 1, 2].map((rank) => DirectChannel.create({ job, rank, size: 3, server: addr, secret })));
    open.push(...chs);
    await Promise.all(
      chs.flatMap((a) =>
        chs
          .filter((b) => b !== a)
          .flatMap((b) => [a.send(b.rank, { ctx: 0, tag: a.rank, kind: 2 }, new Uint8Array([a.rank, b.rank])), b.recv({ source: a.rank, ctx: 0, tag: a.rank })]),
      ),
    );
  });

  it('a secret shorter than 16 bytes is a config error', async () => {
    await expect(DirectChannel.create({ job: randomUUID(), rank: 0, size: 1, secret: 'short' })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
  });
});
