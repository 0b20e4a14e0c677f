import { randomBytes, randomUUID } from 'node:crypto';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DirectChannel, RendezvousServer } from '../../src/index.js';
import { deriveKeys } from '../../src/rendezvous/auth.js';

/**
 * The job secret is never sent: every byte any socket of this process writes
 * (three ranks' rendezvous control connections and their direct connections,
 * with the 'hmac' payload check on) is recorded, and neither the secret nor
 * the key ranks use between them appears in it, in any encoding a bug might
 * use. The job id must appear (the recording works).
 */

function encodings(b: Buffer): Buffer[] {
  return [b, Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64')), Buffer.from(b.toString('base64url'))];
}

describe('security - the secret on the wire', () => {
  it('no byte sequence of the secret or of the ranks\' key is ever written to a socket', async () => {
    const written: Buffer[] = [];
    const write = Socket.prototype.write;
    Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
      written.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array));
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof write;
    const server = new RendezvousServer({ requireSecret: true });
    const channels: DirectChannel[] = [];
    const job = randomUUID();
    const raw = randomBytes(32);
    const secret = raw.toString('base64url');
    try {
      const addr = await server.listen();
      channels.push(...(await Promise.all([0, 1, 2].map((rank) => DirectChannel.create({ job, rank, size: 3, server: addr, secret, integrity: 'hmac', connectTimeoutMs: 20_000 })))));
      const env = { ctx: 0, tag: 4, kind: 11 };
      for (const [from, to] of [[0, 1], [1, 2], [2, 0]] as const) {
        const got = channels[to]!.recv({ source: from, ctx: 0, tag: 4 });
        await channels[from]!.send(to, env, new Uint8Array([from, to, 7]));
        expect([...(await got).data]).toEqual([from, to, 7]);
      }
    } finally {
      Socket.prototype.write = write;
      await Promise.all(channels.map((c) => c.close()));
      await server.close();
    }
    const all = Buffer.concat(written);
    expect(all.includes(Buffer.from(job))).toBe(true);
    const { direct } = deriveKeys(job, secret);
    for (const needle of [Buffer.from(secret), ...encodings(raw), ...encodings(direct)]) {
      expect(all.includes(needle), `found ${needle.toString('latin1').slice(0, 20)}…`).toBe(false);
    }
  });
});
