import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FmiError } from '../../src/errors.js';
import { acceptHandshake, ByteReader, dialHandshake, type HandshakeKeys } from '../../src/channels/direct/handshake.js';
import { bytesCodec, describeReport, fuzz, type FuzzTarget, type Rng } from './engine.js';
import { mutateBytes } from './mutate.js';

// The direct handshake, fuzzed over real loopback connections: whatever a
// stranger sends a listener (or a fake listener answers a dialer), the
// handshake ends in a typed error (FMI_PROTOCOL, or FMI_CHANNEL when the bytes
// run out), never another exception, a hang, or an accepted peer: without the
// job's key no input can pass, as every connection has a fresh nonce.

const keys: HandshakeKeys = { key: randomBytes(32), rank: 0, size: 4 };
let server: Server;
let port = 0;
/** What the listener side does with the next connection. */
let onConnection: (s: Socket) => void = () => {};
const accepted = new Set<Socket>();

beforeAll(async () => {
  server = createServer((s) => {
    accepted.add(s);
    s.on('close', () => accepted.delete(s));
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  for (const s of accepted) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

/** A recorded-looking handshake: magic, a nonce, then a rank and a 32-byte mac. */
function seed(rng: Rng): Buffer {
  const b = Buffer.alloc(4 + 32 + 4 + 32);
  b.write('FMIA', 0, 'latin1');
  for (let i = 4; i < b.length; i++) b[i] = rng.int(256);
  b.writeUInt32LE(rng.int(6), 36);
  return b.subarray(0, rng.chance(0.8) ? b.length : rng.int(b.length));
}

/** Passes on a typed FMI_PROTOCOL/FMI_CHANNEL rejection; a success, another error or a hang is a crash. */
async function mustRefuse(p: Promise<unknown>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within 3 s`)), 3000)));
  try {
    await Promise.race([p, hang]);
  } catch (err) {
    if (err instanceof FmiError && (err.code === 'FMI_PROTOCOL' || err.code === 'FMI_CHANNEL')) return;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`${what}: a forged handshake was accepted`);
}

const acceptor: FuzzTarget<Buffer> = {
  name: 'direct-handshake-accept',
  codec: bytesCodec,
  generate: (rng) => mutateBytes(rng, seed(rng), seed(rng)),
  run: async (input) => {
    const next = new Promise<Socket>((r) => (onConnection = r));
    const stranger = connect(port, '127.0.0.1');
    stranger.on('error', () => {});
    stranger.end(input);
    const s = await next;
    try {
      await mustRefuse(acceptHandshake(s, new ByteReader(s), keys), 'listener');
    } finally {
      s.destroy();
      stranger.destroy();
    }
  },
};

const dialer: FuzzTarget<Buffer> = {
  name: 'direct-handshake-dial',
  codec: bytesCodec,
  generate: (rng) => mutateBytes(rng, seed(rng), seed(rng)),
  run: async (input) => {
    onConnection = (s) => {
      s.on('error', () => {});
      s.end(input);
    };
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    try {
      await mustRefuse(dialHandshake(s, new ByteReader(s), keys, 1), 'dialer');
    } finally {
      s.destroy();
      for (const a of accepted) a.destroy();
    }
  },
};

describe('fuzz - direct handshake', () => {
  for (const target of [acceptor, dialer]) {
    it(`${target.name}: any bytes end in a typed refusal, never a crash, a hang or a peer`, async () => {
      const report = await fuzz(target);
      console.log(describeReport(report));
      expect(report.runs).toBeGreaterThan(0);
      expect(report.crashes).toEqual([]);
    });
  }
});
