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
