import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/channels/direct/connection.js';
import { HEADER_BYTES } from '../../src/channels/direct/frame.js';
import { integrityFor, type IntegrityMode } from '../../src/channels/direct/integrity.js';
import { Matcher } from '../../src/channels/matcher.js';
import { Op } from '../../src/index.js';
import { withWorld } from '../helpers/world.js';

/**
 * Opt-in payload integrity on direct connections: two real Connections over
 * loopback TCP with a relay between them that can flip a byte of the stream
 * from rank 0 to rank 1 (a corruption no TCP checksum caught, or a forger).
 */
const JOB = 'integrity-test';
const SECRET = randomBytes(32).toString('base64url');
const open: Socket[] = [];

afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

/** Rank 0 -> relay -> rank 1; `flipAt`: the stream offset (rank 0 to 1) of a byte to invert. */
async function pair(modes: [IntegrityMode, IntegrityMode], flipAt?: number) {
  const target = createServer();
  const accepted = new Promise<Socket>((r) => target.once('connection', r));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const relay = createServer((from) => {
    const to = connect((target.address() as { port: number }).port, '127.0.0.1');
    open.push(from, to);
    let seen = 0;
    from.on('data', (chunk: Buffer) => {
      if (flipAt !== undefined && flipAt >= seen && flipAt < seen + chunk.byteLength) chunk[flipAt - seen]! ^= 0xff;
      seen += chunk.byteLength;
      to.write(chunk);
    });
    to.pipe(from);
    for (const s of [from, to]) s.on('error', () => {});
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  const s0 = connect((relay.address() as { port: number }).port, '127.0.0.1');
  await new Promise((r) => s0.once('connect', r));
  const s1 = await accepted;
  open.push(s0, s1);
  target.close();
  relay.close();
  const m1 = new Matcher(1, 'direct');
  const noop = () => {};
  const c0 = new Connection(0, 1, s0, new Matcher(0, 'direct'), Buffer.alloc(0), noop, integrityFor(modes[0], JOB, SECRET, 0));
  // As the direct channel does: a connection that ends fails the receives from its peer.
  new Connection(1, 0, s1, m1, Buffer.alloc(0), (err) => m1.failSource(0, err), integrityFor(modes[1], JOB, SECRET, 1));
  const recv = () => m1.post({ source: 0, ctx: 0, tag: 5 });
  return { c0, recv };
}

const send = (c: Connection, payload: Uint8Array) => c.send({ ctx: 0, tag: 5, kind: 11 }, payload).catch(() => {});

describe('direct channel payload integrity', () => {
  for (const mode of ['crc32', 'hmac'] as const) {
    it(`${mode}: payloads of 8 B, 64 KiB and 1 MiB arrive intact`, async () => {
      const { c0, recv } = await pair([mode, mode]);
      for (const n of [8, 64 * 1024, 1 << 20]) {
        const data = randomBytes(n);
        const got = recv();
        await send(c0, data);
        expect(Buffer.from((await got).data).equals(data)).toBe(true);
      }
    });

    for (const [what, n] of [['a small', 100], ['a large', 256 * 1024]] as const) {
      it(`${mode}: one flipped byte in ${what} payload fails the receive with FMI_PROTOCOL, never delivers it`, async () => {
        const { c0, recv } = await pair([mode, mode], HEADER_BYTES + 37);
        const got = recv();
        await send(c0, randomBytes(n));
        await expect(got).rejects.toMatchObject({ code: 'FMI_PROTOCOL', message: expect.stringContaining('check') });
      });
    }
  }

  it('without integrity, the same flipped byte is delivered (what the option is for)', async () => {
    const { c0, recv } = await pair(['none', 'none'], HEADER_BYTES + 37);
    const data = new Uint8Array(100);
    const got = recv();
    await send(c0, data);
    expect((await got).data[37]).toBe(0xff);
  });

  it('ranks that disagree on the option lose the connection (typed) instead of taking a trailer for data', async () => {
    const { c0, recv } = await pair(['crc32', 'none']);
    const got = recv();
    await send(c0, new Uint8Array(8));
    await expect(got).rejects.toMatchObject({ code: 'FMI_PEER_LOST', message: expect.stringContaining('same integrity option') });
  });

  it("'hmac' needs the job secret; a bad mode is FMI_CONFIG", () => {
    expect(() => integrityFor('hmac', JOB, undefined, 0)).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
    expect(() => integrityFor('md5' as IntegrityMode, JOB, SECRET, 0)).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
  });

  it('a job with integrity hmac runs collectives and point-to-point as usual', async () => {
    const out = await withWorld(3, async (c) => {
      const big = await c.allreduce(new Float64Array(1 << 16).fill(c.rank + 1), Op.SUM);
      const got = c.rank === 0 ? await c.recv(2) : c.rank === 2 ? (await c.send('x', 0), 'sent') : 'none';
      return [(big as Float64Array)[0], got];
    }, { integrity: 'hmac', secret: SECRET });
    expect(out).toEqual([[6, 'x'], [6, 'none'], [6, 'sent']]);
  });
});
