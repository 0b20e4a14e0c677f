import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptHandshake, ByteReader } from '../src/channels/direct/handshake.js';
import { Pairing } from '../src/channels/direct/pairing.js';
import { deriveKeys } from '../src/rendezvous/auth.js';
import { LauncherLink } from '../src/rendezvous/launcher-link.js';
import { FmiError, init, RendezvousServer } from '../src/index.js';
import { rankProcess, type RankProcess } from './helpers/rank-process.js';

/*
 * Connecting a pair of ranks on one host once the rendezvous server has
 * introduced them (src/channels/direct/pairing.ts): no clock runs while the
 * server watches both ranks, so a slow peer is waited for, a lost one is
 * known at once (`gone`), and a failed dial of the peer's listener is dialed again.
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function serverWithLauncher(job: string, onPaired?: () => void): Promise<{ server: RendezvousServer; addr: { host: string; port: number } }> {
  const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
  const addr = await server.listen();
  cleanup.push(() => server.close());
  // fmi run's part: it vouches for the ranks it starts, and hears when the server introduced one.
  const link = await LauncherLink.open({ server: addr, job, size: 2, onPaired });
  cleanup.push(() => link.close());
  return { server, addr };
}

/** Rank 0 in a process of its own: sends 'hi' to rank 1 first thing, then prints what rank 1 sends back. */
function rankZero(job: string, addr: { host: string; port: number }, connectTimeoutMs: number): RankProcess {
  const p = rankProcess(
    (channels) => `
      const { init } = await import(new URL('../index.js', ${JSON.stringify(channels)}));
      const comm = await init({ rank: 0, size: 2, job: ${JSON.stringify(job)}, rendezvous: ${JSON.stringify(addr)}, env: {}, connectTimeoutMs: ${connectTimeoutMs} });
      try {
        await comm.send('hi', 1);
        console.log('got ' + (await comm.recv(1)));
      } catch (e) {
        console.log('failed ' + e.code + ' ' + e.message);
      }
      await comm.close();
    `,
  );
  cleanup.push(() => p.kill());
  return p;
}

/** Stops rank 0's process the moment the server has introduced the pair: from then on it answers nothing. */
function stopOnPairing(get: () => RankProcess | undefined, then: (p: RankProcess) => void): () => void {
  let done = false;
  return () => {
    const p = get();
    if (done || !p) return;
    done = true;
    p.child.kill('SIGSTOP');
    then(p);
  };
}

describe('direct connect - after the introduction, on one host', () => {
  it('a peer that stops answering for longer than the connect timeout is waited for, not failed', async () => {
    const job = randomUUID();
    let zero: RankProcess | undefined;
    const resumed: Promise<void>[] = [];
    const onPaired = stopOnPairing(
      () => zero,
      (p) => resumed.push(new Promise<void>((r) => setTimeout(() => r(void p.child.kill('SIGCONT')), 1500))),
    );
    const { addr } = await serverWithLauncher(job, onPaired);
    zero = rankZero(job, addr, 300);
    // 300 ms to connect, and the peer answers only after 1.5 s: before, both ranks failed with FMI_CHANNEL.
    const comm = await init({ rank: 1, size: 2, job, rendezvous: addr, env: {}, connectTimeoutMs: 300 });
    cleanup.push(() => comm.close());
    expect(await comm.recv(0)).toBe('hi');
    await comm.send('back', 0);
    await zero.said('got back');
    expect(resumed).toHaveLength(1);
    await resumed[0];
  }, 30_000);

  it('a peer that dies meanwhile fails the connection at once with FMI_PEER_LOST, not after the connect timeout', async () => {
    const job = randomUUID();
    let zero: RankProcess | undefined;
    const onPaired = stopOnPairing(
      () => zero,
      (p) => setTimeout(() => void p.kill(), 300),
    );
    const { addr } = await serverWithLauncher(job, onPaired);
    zero = rankZero(job, addr, 600_000);
    const comm = await init({ rank: 1, size: 2, job, rendezvous: addr, env: {}, connectTimeoutMs: 600_000 });
    cleanup.push(() => comm.close());
    // The server hears rank 0's control connection end and says `gone`: the test's own limit is far below the connect timeout.
    const err = await comm.send('x', 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FmiError);
    expect(err).toMatchObject({ code: 'FMI_PEER_LOST', peer: 0 });
  }, 30_000);

  it('with the rendezvous server gone, nothing would say the peer is lost: the connect timeout runs again', async () => {
    const job = randomUUID();
    let zero: RankProcess | undefined;
    let serverRef: RendezvousServer | undefined;
    const onPaired = stopOnPairing(
      () => zero,
      () => setTimeout(() => void serverRef?.close(), 300),
    );
    const { server, addr } = await serverWithLauncher(job, onPaired);
    serverRef = server;
    zero = rankZero(job, addr, 500);
    const comm = await init({ rank: 1, size: 2, job, rendezvous: addr, env: {}, connectTimeoutMs: 500 });
    cleanup.push(() => comm.close());
    const err = await comm.send('x', 0).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FMI_CHANNEL', peer: 0 });
    expect((err as Error).message).toMatch(/could not connect to rank 0 within 500 ms/);
  }, 30_000);
});

describe('direct connect - the dial of the peer listener', () => {
  it('is dialed again while refused, and connects once the listener is up', async () => {
    const job = randomUUID();
    const { addr } = await serverWithLauncher(job);
    // A port that refuses for now: rank 0's listener opens there later.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const keys = deriveKeys(job, undefined);
    const setup = { job, size: 2, keys, server: addr, timeoutMs: 1000 };
    const zero = new Pairing({ ...setup, rank: 0, peer: 1, priv: [{ host: '127.0.0.1', port }] });
    const one = new Pairing({ ...setup, rank: 1, peer: 0, priv: [{ host: '127.0.0.1', port: 1 }] });
    cleanup.push(() => {
      zero.cancel(new Error('test over'));
      one.cancel(new Error('test over'));
    });
    const listener: Server = await new Promise((resolve) =>
      setTimeout(() => {
        // As DirectChannel's listener does: the dialer proves who it is, then goes to the pairing.
        const l = createServer((socket) => {
          const reader = new ByteReader(socket);
          acceptHandshake(socket, reader, { key: keys.direct, rank: 0, size: 2 }).then(
            () => zero.offer(socket, reader),
            () => socket.destroy(),
          );
        });
        l.listen(port, '127.0.0.1', () => resolve(l));
      }, 2000),
    );
    cleanup.push(() => new Promise((r) => listener.close(r)));
    const [a, b] = await Promise.all([zero.promise, one.promise]);
    expect([a.via, b.via]).toEqual(['accepted', 'listener']);
    a.socket.destroy();
    b.socket.destroy();
  }, 30_000);
});
