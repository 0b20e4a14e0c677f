import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { init, Op, RendezvousServer, type Communicator, type Endpoint, type FmiError, type RendezvousServerOptions } from '../src/index.js';
import { LauncherLink } from '../src/rendezvous/launcher-link.js';
import { rawClient, type RawClient } from './security/line-client.js';

/*
 * A long-running rendezvous server holds nothing of a job once it ended
 * (jobs, ranks, pairing requests, connections), however it ended; and a
 * pairing request that replaces an earlier one of the same rank is not
 * dropped by the earlier one's timer.
 */

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function server(opts: RendezvousServerOptions = {}): Promise<{ s: RendezvousServer; addr: Endpoint }> {
  const s = new RendezvousServer({ requireSecret: true, ...opts });
  const addr = await s.listen();
  open.push(s);
  return { s, addr };
}

const secret = () => randomBytes(32).toString('base64url');
const rank = (addr: Endpoint, job: string, r: number, size: number, s: string, extra = {}) => init({ rank: r, size, job, rendezvous: addr, secret: s, env: {}, ...extra });
const failure = (p: Promise<unknown>) => p.then(() => 'no error', (e: FmiError) => e);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The server's state once it settled (sockets close asynchronously): nothing held. */
async function empty(s: RendezvousServer): Promise<void> {
  const nothing = { connections: 0, jobs: 0, ranks: 0, waiting: 0 };
  for (let i = 0; i < 500; i++) {
    const { pairings: _, ...now } = s.stats();
    if (JSON.stringify(now) === JSON.stringify(nothing)) break;
    await sleep(20);
  }
  const { pairings: _, ...now } = s.stats();
  expect(now).toEqual(nothing);
}

describe('rendezvous - what is left of a job after it ended', () => {
  it('nothing, for a launched job whose ranks all paired and closed', async () => {
    const { s, addr } = await server();
    const job = randomUUID();
    const k = secret();
    const link = await LauncherLink.open({ server: addr, job, size: 3, secret: k });
    const comms = await Promise.all([0, 1, 2].map((r) => rank(addr, job, r, 3, k)));
    expect(await Promise.all(comms.map((c) => c.allreduce(c.rank, Op.SUM)))).toEqual([3, 3, 3]);
    await Promise.all(comms.map((c) => c.close()));
    link.close();
    await empty(s);
  });

  it('nothing, when the launcher gave up a rank another was waiting for', async () => {
    const { s, addr } = await server();
    const job = randomUUID();
    const k = secret();
    const link = await LauncherLink.open({ server: addr, job, size: 3, secret: k });
    const [c0, c1] = (await Promise.all([0, 1].map((r) => rank(addr, job, r, 3, k, { connectTimeoutMs: 600_000 })))) as Communicator[];
    // Rank 0's request to pair with 2 waits at the server, vouched for: no clock runs.
    const waiting = failure(c0!.send('x', 2));
    await sleep(200);
    expect(s.stats().waiting).toBe(1);
    link.abort(2);
    expect(await waiting).toMatchObject({ code: 'FMI_PEER_LOST', peer: 2 });
    // The launcher goes first (its process ended or timed out): the ranks that ran leave after it.
    link.close();
    await sleep(200);
    await Promise.all([c0!.close(), c1!.close()]);
    // Rank 2 will never register (it would be refused): nothing waits for it, before pairTimeoutMs (60 s) or after.
    await empty(s);
  });

  it('nothing, soon after, when the launcher left first and a rank never came', async () => {
    const { s, addr } = await server({ pairTimeoutMs: 500 });
    const job = randomUUID();
    const k = secret();
    const link = await LauncherLink.open({ server: addr, job, size: 3, secret: k });
    const c0 = await rank(addr, job, 0, 3, k, { connectTimeoutMs: 500 });
    const waiting = failure(c0.send('x', 2));
    await sleep(200);
    // No one vouches for rank 2 any more: the clocks run, here and at the server.
    link.close();
    expect(await waiting).toMatchObject({ code: 'FMI_CHANNEL', peer: 2 });
    await c0.close();
    // Rank 2 may still come and must hear rank 0 left: the job is remembered for pairTimeoutMs, then forgotten.
    await empty(s);
  });

  it('nothing, for a job without a launcher, once every rank left', async () => {
    const { s, addr } = await server();
    const job = randomUUID();
    const k = secret();
    const comms = await Promise.all([0, 1].map((r) => rank(addr, job, r, 2, k)));
    await Promise.all([comms[0]!.send('hi', 1), comms[1]!.recv(0)]);
    await Promise.all(comms.map((c) => c.close()));
    await empty(s);
  });
});

describe('rendezvous - a pairing request asked again', () => {
  it("replaces the first, whose timer then no longer drops the second", async () => {
    // Without a secret: the raw clients below speak the protocol by hand, without proofs.
    const { s, addr } = await server({ requireSecret: false, pairTimeoutMs: 6000 });
    const job = randomUUID();
    const clients: RawClient[] = [];
    const client = async (line: object) => {
      const c = await rawClient(addr);
      clients.push(c);
      c.socket.write(`${JSON.stringify(line)}\n`);
      return c;
    };
    open.push({ close: () => clients.forEach((c) => c.socket.destroy()) });
    // The job exists once a rank registered; 0 and 1 pair without registering (the server does not ask).
    await (await client({ t: 'register', job, rank: 2, size: 3 })).waitFor((m) => m.t === 'registered');
    const first = await client({ t: 'pair', job, from: 0, to: 1, priv: [] });
    await sleep(5000);
    const second = await client({ t: 'pair', job, from: 0, to: 1, priv: [] });
    expect((await first.closed(5000)).closed).toBe(true);
    // The first request's timer (at 6 s) would have fired by now; the second's (at 11 s) has not.
    await sleep(2000);
    expect(s.stats().waiting).toBe(1);
    const peer = await client({ t: 'pair', job, from: 1, to: 0, priv: [] });
    await second.waitFor((m) => m.t === 'peer');
    await peer.waitFor((m) => m.t === 'peer');
  }, 30_000);
});
