import { randomBytes, randomUUID } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FmiError, init, RendezvousServer, type Communicator, type Endpoint } from '../../src/index.js';
import { deriveKeys, proveRequest } from '../../src/rendezvous/auth.js';
import { answers, askServer } from './stranger.js';

/*
 * The rendezvous server as an attacker who knows its address and a job id
 * (not the job's secret) sees it: real server, real ranks over loopback, the
 * attacker on raw sockets.
 */

const secret = () => randomBytes(32).toString('base64url');
const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close().catch(() => {});
});

async function server(opts: ConstructorParameters<typeof RendezvousServer>[0] = {}): Promise<Endpoint> {
  const s = new RendezvousServer(opts);
  const addr = await s.listen();
  open.push(s);
  return addr;
}

async function startJob(addr: Endpoint, size: number, s: string | undefined): Promise<{ job: string; comms: Communicator[] }> {
  const job = randomUUID();
  const comms = await Promise.all(Array.from({ length: size }, (_, rank) => init({ rank, size, job, rendezvous: addr, secret: s, env: {} })));
  open.push(...comms);
  return { job, comms };
}

/** Rank 0 and rank 1 still talk both ways, over a fresh pair connection. */
async function stillWorks(comms: Communicator[]): Promise<void> {
  const [a, b] = comms as [Communicator, Communicator];
  const [, got] = await Promise.all([a.send('ping', 1, { timeoutMs: 5000 }), b.recv(0, { timeoutMs: 5000 })]);
  expect(got).toBe('ping');
  const [, back] = await Promise.all([b.send('pong', 0, { timeoutMs: 5000 }), a.recv(1, { timeoutMs: 5000 })]);
  expect(back).toBe('pong');
}

const initError = (p: Promise<unknown>) => p.then(() => 'no error', (e: FmiError) => e);

describe('security - registration', () => {
  it('a stranger registering as rank 1 of a running job is refused, and the real rank keeps working', async () => {
    const addr = await server();
    const { job, comms } = await startJob(addr, 2, secret());
    const wrongKey = deriveKeys(job, secret()).rendezvous;
    for (const extra of [{}, { proof: 'AAAA' }, { proof: proveRequest(wrongKey, 'not-the-nonce', { t: 'register', job, rank: 1, size: 2 }) }]) {
      const got = answers(await askServer(addr, { t: 'register', job, rank: 1, size: 2, ...extra }));
      expect(got).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
    }
    await stillWorks(comms);
  });

  it('a wrong secret is refused at init, with the answer a stranger gets', async () => {
    const addr = await server();
    const j = randomUUID();
    open.push(await init({ rank: 0, size: 3, job: j, rendezvous: addr, secret: secret(), env: {} }));
    const err = await initError(init({ rank: 1, size: 3, job: j, rendezvous: addr, secret: secret(), env: {} }));
    expect(err).toMatchObject({ code: 'FMI_CHANNEL' });
    expect((err as Error).message).toContain('rendezvous: not authorized for this job');
  });

  it('a rank without a secret is refused by a job with one, and a rank with one by a job without', async () => {
    const addr = await server();
    for (const [first, second] of [[secret(), undefined], [undefined, secret()]]) {
      const j = randomUUID();
      open.push(await init({ rank: 0, size: 2, job: j, rendezvous: addr, secret: first, env: {} }));
      const err = await initError(init({ rank: 1, size: 2, job: j, rendezvous: addr, secret: second, env: {} }));
      expect(err).toMatchObject({ code: 'FMI_CHANNEL' });
      expect((err as Error).message).toContain('not authorized for this job');
    }
  });

  it('a job of ranks all without a secret still runs, unless the server requires secrets', async () => {
    await stillWorks((await startJob(await server(), 2, undefined)).comms);
    const strict = await server({ requireSecret: true });
    const err = await initError(init({ rank: 0, size: 2, job: randomUUID(), rendezvous: strict, env: {} }));
    expect((err as Error).message).toContain('this rendezvous server requires a job secret');
    await stillWorks((await startJob(strict, 2, secret())).comms);
  });

  it('ranks that disagree on the size are refused at registration, with both sizes named', async () => {
    const addr = await server();
    const j = randomUUID();
    const s = secret();
    open.push(await init({ rank: 0, size: 2, job: j, rendezvous: addr, secret: s, env: {} }));
    const err = await initError(init({ rank: 1, size: 3, job: j, rendezvous: addr, secret: s, env: {} }));
    expect(err).toMatchObject({ code: 'FMI_CHANNEL' });
    expect((err as Error).message).toContain(`rank 1 says job ${j} has 3 ranks; its other ranks said 2`);
  });

  it('a rank registers once while its connection lives, even with the secret; once it is gone, it may again', async () => {
    const addr = await server();
    const s = secret();
    const { job: j, comms } = await startJob(addr, 2, s);
    const err = await initError(init({ rank: 1, size: 2, job: j, rendezvous: addr, secret: s, env: {} }));
    expect((err as Error).message).toContain('rank 1 of this job is already registered');
    await stillWorks(comms);
    await comms[1]!.close();
    // The server sees the close shortly after; a new rank 1 may then register.
    let again: Communicator | undefined;
    for (let i = 0; i < 50 && !again; i++) {
      again = await init({ rank: 1, size: 2, job: j, rendezvous: addr, secret: s, env: {} }).catch(() => undefined);
      if (!again) await new Promise((r) => setTimeout(r, 20));
    }
    expect(again).toBeDefined();
    open.push(again!);
  });
});

describe('security - a server that does not challenge', () => {
  it('a silent server (or one of an older protocol) fails init within the connect timeout, not a hang', async () => {
    const silent = createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    open.push({ close: () => new Promise<void>((r) => { silent.close(() => r()); }) });
    const { port } = silent.address() as { port: number };
    const err = await initError(init({ rank: 0, size: 2, job: randomUUID(), rendezvous: { host: '127.0.0.1', port }, secret: secret(), connectTimeoutMs: 300, env: {} }));
    expect(err).toMatchObject({ code: 'FMI_CHANNEL' });
    expect((err as Error).message).toContain('did not register this rank within 300 ms');
  });
});

describe('security - pairing', () => {
  it('a stranger asking to pair learns no endpoint, and cannot tell a running job from none', async () => {
    const addr = await server();
    const { job: j, comms } = await startJob(addr, 2, secret());
    const running = answers(await askServer(addr, { t: 'pair', job: j, from: 1, to: 0, priv: [] }));
    const forged = answers(await askServer(addr, { t: 'pair', job: j, from: 1, to: 0, priv: [], proof: randomBytes(32).toString('base64') }));
    const none = answers(await askServer(addr, { t: 'pair', job: randomUUID(), from: 1, to: 0, priv: [] }));
    for (const got of [running, forged, none]) expect(got).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
    // Nor did rank 0 hear of it: its next pair is with the real rank 1.
    await stillWorks(comms);
  });

  it('a recorded request, replayed on a new connection, is refused; on its own connection it was good', async () => {
    const addr = await server();
    const s = secret();
    const j = randomUUID();
    const comms = await Promise.all([0, 1].map((rank) => init({ rank, size: 3, job: j, rendezvous: addr, secret: s, env: {} })));
    open.push(...comms);
    // Rank 2's registration, made for the nonce of one connection (as an eavesdropper would record it) ...
    const own = connect(addr.port, addr.host);
    open.push({ close: async () => void own.destroy() });
    let text = '';
    own.on('data', (d) => (text += d));
    const line = async (n: number) => {
      while (text.split('\n').length <= n + 1) await new Promise((r) => setTimeout(r, 5));
      return JSON.parse(text.split('\n')[n]!) as Record<string, unknown>;
    };
    const nonce = (await line(0)).nonce as string;
    const body = { t: 'register', job: j, rank: 2, size: 3 };
    const recorded = { ...body, proof: proveRequest(deriveKeys(j, s).rendezvous, nonce, body) };
    // ... is worth nothing on another connection, whose nonce is new ...
    expect(answers(await askServer(addr, recorded))).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
    // ... while on its own it registers.
    own.write(JSON.stringify(recorded) + '\n');
    expect(await line(1)).toEqual({ t: 'registered' });
    await stillWorks(comms);
  });

  it('a rank that does not exist (rank 7 of 2) can neither register nor pair', async () => {
    const addr = await server();
    const { job: j, comms } = await startJob(addr, 2, secret());
    expect(answers(await askServer(addr, { t: 'register', job: j, rank: 7, size: 8 }))).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
    expect(answers(await askServer(addr, { t: 'pair', job: j, from: 7, to: 0, priv: [] }))).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
    await stillWorks(comms);
  });
});
