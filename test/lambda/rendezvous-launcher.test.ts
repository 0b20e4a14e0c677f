import { randomBytes, randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { init, RendezvousServer, type Communicator, type Endpoint, type FmiError } from '../../src/index.js';
import { LauncherLink } from '../../src/rendezvous/launcher-link.js';

/* The rendezvous server's launcher connection: real server, real ranks over loopback. */

const secret = () => randomBytes(32).toString('base64url');
const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

async function server(): Promise<Endpoint> {
  const s = new RendezvousServer({ requireSecret: true });
  const addr = await s.listen();
  open.push(s);
  return addr;
}

async function launch(addr: Endpoint, job: string, size: number, s: string, events: string[] = []): Promise<LauncherLink> {
  const link = await LauncherLink.open({ server: addr, job, size, secret: s, onJoined: (r) => events.push(`joined ${r}`), onPaired: (r) => events.push(`paired ${r}`), onGone: (r, clean) => events.push(`gone ${r} ${clean}`) });
  open.push(link);
  return link;
}

const rank = (addr: Endpoint, job: string, r: number, size: number, s: string, extra = {}) => init({ rank: r, size, job, rendezvous: addr, secret: s, env: {}, ...extra });
const failure = (p: Promise<unknown>) => p.then(() => 'no error', (e: FmiError) => e);
const until = async (ok: () => boolean) => {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('rendezvous - a job with a launcher', () => {
  it('the launcher hears ranks join and leave; a rank of its job registers once, even after it left', async () => {
    const addr = await server();
    const job = randomUUID();
    const s = secret();
    const events: string[] = [];
    await launch(addr, job, 2, s, events);
    const c0 = await rank(addr, job, 0, 2, s);
    open.push(c0);
    await until(() => events.length === 1);
    await c0.close();
    await until(() => events.length === 2);
    expect(events).toEqual(['joined 0', 'gone 0 true']);
    // A second invocation of rank 0 (a retry) must not join the job again.
    const again = await failure(rank(addr, job, 0, 2, s));
    expect(again).toMatchObject({ code: 'FMI_CHANNEL' });
    expect((again as Error).message).toContain('rank 0 of this job has already run');
  });

  it('the launcher hears each rank paired once: when the server first introduces it to a peer, not at registration', async () => {
    const addr = await server();
    const job = randomUUID();
    const s = secret();
    const events: string[] = [];
    await launch(addr, job, 3, s, events);
    const [c0, c1, c2] = await Promise.all([0, 1, 2].map((r) => rank(addr, job, r, 3, s)));
    open.push(c0!, c1!, c2!);
    await until(() => events.length === 3);
    expect(events.sort()).toEqual(['joined 0', 'joined 1', 'joined 2']);
    // 0 and 1 pair; 2 has talked to nobody yet.
    await Promise.all([c0!.send('a', 1), c1!.recv(0)]);
    await until(() => events.length === 5);
    expect(events.slice(3).sort()).toEqual(['paired 0', 'paired 1']);
    // 2 pairs with 0: only 2 is new.
    await Promise.all([c2!.send('b', 0), c0!.recv(2)]);
    await Promise.all([c1!.send('c', 2), c2!.recv(1)]);
    await until(() => events.length === 6);
    await new Promise((r) => setTimeout(r, 100));
    expect(events.slice(5)).toEqual(['paired 2']);
  });

  it('a rank the launcher gives up is gone at once for the ranks waiting on it, and for those that register later', async () => {
    const addr = await server();
    const job = randomUUID();
    const s = secret();
    const link = await launch(addr, job, 3, s);
    const c0 = (await rank(addr, job, 0, 3, s, { connectTimeoutMs: 600_000 })) as Communicator;
    open.push(c0);
    // Rank 0 waits for rank 2, which will never come: only the launcher's word can end that wait in time.
    const waiting = failure(c0.recv(2));
    link.abort(2);
    expect(await waiting).toMatchObject({ code: 'FMI_PEER_LOST', peer: 2 });
    const c1 = (await rank(addr, job, 1, 3, s, { connectTimeoutMs: 600_000 })) as Communicator;
    open.push(c1);
    expect(await failure(c1.send('x', 2))).toMatchObject({ code: 'FMI_PEER_LOST', peer: 2 });
    // Rank 2 itself, should it start after all, is refused.
    expect((await failure(rank(addr, job, 2, 3, s))) as Error).toHaveProperty('message', expect.stringContaining('rank 2 of this job was given up by its launcher'));
    // The others still talk.
    const [, got] = await Promise.all([c0.send('hi', 1), c1.recv(0)]);
    expect(got).toBe('hi');
  });

  it('a launcher without the job secret is refused, and cannot give up a rank of the job', async () => {
    const addr = await server();
    const job = randomUUID();
    const s = secret();
    const c0 = await rank(addr, job, 0, 2, s, { connectTimeoutMs: 600_000 });
    open.push(c0);
    const err = await failure(launch(addr, job, 2, secret()));
    expect((err as Error).message).toContain('not authorized for this job');
    // Rank 1 was not given up: it joins, and the two talk.
    const c1 = await rank(addr, job, 1, 2, s);
    open.push(c1);
    const [, got] = await Promise.all([c0.send(1, 1), c1.recv(0)]);
    expect(got).toBe(1);
  });
});
