import { afterAll, beforeAll } from 'vitest';
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
