import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RendezvousServer, type Endpoint } from '../../src/index.js';
import { DirectChannel } from '../../src/channels/direct/direct-channel.js';
import { channelCompliance } from './compliance.js';

let server: RendezvousServer;
let addr: Endpoint;
beforeAll(async () => {
  server = new RendezvousServer();
  addr = await server.listen();
});
afterAll(() => server.close());

channelCompliance('direct', (o) => DirectChannel.create({ ...o, server: addr }));
// FMI_DIRECT_POLL_US: the same behaviour while the event loop polls for messages.
channelCompliance('direct, polling', (o) => DirectChannel.create({ ...o, server: addr, pollUs: 200 }), { sizes: [2, 3, 5] });

describe('direct - paths', () => {
  it('paths() says how each peer was reached: on loopback, the listener (or a punch that won the race)', async () => {
    const job = randomUUID();
    const [a, b] = await Promise.all([0, 1].map((rank) => DirectChannel.create({ job, rank, size: 2, server: addr })));
    try {
      const env = { ctx: 0, tag: 5, kind: 0 };
      await a!.send(1, env, new Uint8Array([1, 2, 3]));
      await b!.recv({ source: 0, ctx: 0, tag: 5 });
      expect(b!.paths()).toEqual({ 0: a!.paths()[1] === 'punch' ? 'punch' : 'listener' });
      expect(['accepted', 'punch']).toContain(a!.paths()[1]);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});

describe('direct - no allocation per message', () => {
  it('large messages received into a buffer: the kernel writes them in place, nothing is allocated per message', async () => {
    const job = randomUUID();
    const [a, b] = await Promise.all([0, 1].map((rank) => DirectChannel.create({ job, rank, size: 2, server: addr })));
    try {
      const env = { ctx: 0, tag: 1, kind: 0 };
      const out = new Uint8Array(1 << 20).fill(3);
      const intoA = new Uint8Array(1 << 20);
      const intoB = new Uint8Array(1 << 20);
      const round = async () => {
        const got = b!.recv({ source: 0, ctx: 0, tag: 1, into: intoB });
        await a!.send(1, env, out);
        const r = await got;
        const back = a!.recv({ source: 1, ctx: 0, tag: 1, into: intoA });
        await b!.send(0, env, r.data);
        await back;
      };
      for (let i = 0; i < 3; i++) await round();
      // Node's total of ArrayBuffer bytes only drops when the GC frees some:
      // 20 round trips that allocated per message would add 40 MiB or more.
      const before = process.memoryUsage().arrayBuffers;
      for (let i = 0; i < 20; i++) await round();
      const grown = process.memoryUsage().arrayBuffers - before;
      expect(grown).toBeLessThan(1 << 20);
      expect(intoA.every((x) => x === 3)).toBe(true);
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });
});
