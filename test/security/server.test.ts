import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { init, RendezvousServer, type Endpoint, type RendezvousServerOptions } from '../../src/index.js';
import { exchange, rawClient, registerRaw, type RawClient } from './line-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/cli/main.js`;

const servers: RendezvousServer[] = [];
const clients: RawClient[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function server(opts: RendezvousServerOptions = {}): Promise<Endpoint> {
  const s = new RendezvousServer(opts);
  servers.push(s);
  return s.listen();
}

/** A valid rank still registers, and a real two-rank job still pairs and talks, through `ep`. */
async function stillServes(ep: Endpoint): Promise<void> {
  const c = await registerRaw(ep, randomUUID());
  clients.push(c);
  expect(c.lines).toContainEqual({ t: 'registered' });
  const job = randomUUID();
  const comms = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, rendezvous: ep, env: {} })));
  const got = await Promise.all([comms[0]!.send('hi', 1), comms[1]!.recv(0)]);
  expect(got[1]).toBe('hi');
  await Promise.all(comms.map((c) => c.close()));
}

const reg = (fields: Record<string, unknown>) => JSON.stringify({ t: 'register', job: 'j', rank: 0, size: 2, ...fields });
const pair = (fields: Record<string, unknown>) => JSON.stringify({ t: 'pair', job: 'j', from: 0, to: 1, priv: [], ...fields });

/** Lines a client may send that are not a message the server can use. */
const BAD_LINES = [
  'null',
  '[]',
  '[{"t":"register","job":"j","rank":0,"size":2}]',
  '42',
  '-1e309',
  '"register"',
  'true',
  '{}',
  '{"t":null}',
  '{"t":["register"]}',
  '{"t":"nope"}',
  '{"t":"register"}',
  reg({ job: undefined }),
  reg({ job: 5 }),
  reg({ job: '' }),
  reg({ job: 'x'.repeat(201) }),
  reg({ job: { toString: 'j' } }),
  reg({ rank: '0' }),
  reg({ rank: null }),
  reg({ rank: -1 }),
  reg({ rank: 2 }),
  reg({ rank: 0.5 }),
  reg({ rank: 1e300 }),
  reg({ size: 0 }),
  reg({ size: -3 }),
  reg({ size: 1e300 }),
  reg({ size: 2 ** 40 }),
  reg({ size: '2' }),
  reg({ size: [2] }),
  pair({ from: 1 }),
  pair({ to: -1 }),
  pair({ to: 1e300 }),
  pair({ from: 'a' }),
  pair({ priv: undefined }),
  pair({ priv: 'x' }),
  pair({ priv: [null] }),
  pair({ priv: [{ host: 'h' }] }),
  pair({ priv: [{ host: 'h', port: 70000 }] }),
  pair({ priv: [{ host: 5, port: 1 }] }),
  pair({ priv: Array.from({ length: 1000 }, () => ({ host: 'h', port: 1 })) }),
  '{"t":"bye"}',
  'not json at all',
  '{"t":"register",',
];

describe('rendezvous server - bad messages', () => {
  it('`null` and a line, answered with an error, close only that connection', async () => {
    const ep = await server();
    const heard = await exchange(ep, 'null\n');
    expect(heard.closed).toBe(true);
    expect(heard.lines).toEqual([{ t: 'error', message: expect.stringMatching(/JSON object/) }]);
    await stillServes(ep);
  });

  it('every other bad shape gets an error reply and the server serves a valid client afterwards', async () => {
    const ep = await server();
    for (const line of BAD_LINES) {
      const heard = await exchange(ep, `${line}\n`);
      expect({ line, ...heard }).toEqual({ line, closed: true, lines: [{ t: 'error', message: expect.any(String) }] });
    }
    await stillServes(ep);
  });

  it('a registered rank that sends junk loses its own connection only', async () => {
    const ep = await server();
    const job = randomUUID();
    const a = await registerRaw(ep, job, 0, 2);
    const b = await registerRaw(ep, job, 1, 2);
    clients.push(a, b);
    a.socket.write('null\n{"t":"bye"}\n');
    expect((await a.closed()).closed).toBe(true);
    await b.waitFor((m) => m.t === 'gone' && m.rank === 0);
    await stillServes(ep);
  });
});

describe('rendezvous server - line length', () => {
  it('an endless line is cut at the limit and the server does not buffer it', async () => {
    // In a process of its own, so its memory can be read.
    const { ep, child } = await cliServer([]);
    const rss0 = rssKiB(child.pid!);
    const c = await rawClient(ep, { allowHalfOpen: true });
    const chunk = Buffer.alloc(1 << 20, 0x61);
    let writes = 0;
    // 256 MiB, as fast as the server takes it; it must hang up long before.
    while (writes < 256 && !c.socket.destroyed && c.socket.writable) {
      writes++;
      if (!c.socket.write(chunk)) {
        const open = await Promise.race([
          new Promise<boolean>((r) => c.socket.once('drain', () => r(true))),
          new Promise<boolean>((r) => c.socket.once('close', () => r(false))),
          new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
        ]);
        if (!open) break;
      }
    }
    const heard = await c.closed();
    c.socket.destroy();
    expect(heard.closed).toBe(true);
    // What the kernel buffers on both sides, not the 256 MiB.
    expect(c.socket.bytesWritten).toBeLessThan(32 * 2 ** 20);
    expect(rssKiB(child.pid!) - rss0).toBeLessThan(48 * 1024);
    await stillServes(ep);
  });

  it('a line just under the limit is read; one byte over is refused', async () => {
    const ep = await server({ maxLineBytes: 1000 });
    const pad = (n: number) => reg({ job: randomUUID(), pad: 'x'.repeat(n) });
    const base = pad(0).length;
    const ok = await rawClient(ep);
    clients.push(ok);
    ok.socket.write(pad(1000 - base) + '\n');
    await ok.waitFor((m) => m.t === 'registered');
    const heard = await exchange(ep, pad(1001 - base) + '\n');
    expect(heard).toEqual({ closed: true, lines: [{ t: 'error', message: 'line too long' }] });
  });
});

describe('rendezvous server - idle clients and caps', () => {
  it('drops a client that says nothing, or too slowly, after the idle timeout', async () => {
    const ep = await server({ idleTimeoutMs: 300 });
    const silent = await rawClient(ep);
    const slow = await rawClient(ep);
    clients.push(silent, slow);
    const line = Buffer.from(reg({ job: randomUUID() }) + '\n');
    let i = 0;
    const drip = setInterval(() => i < line.length && slow.socket.write(line.subarray(i, ++i)), 50);
    try {
      for (const c of [silent, slow]) {
        const heard = await c.closed(5000);
        expect(heard).toEqual({ closed: true, lines: [{ t: 'error', message: expect.stringMatching(/within 300 ms/) }] });
      }
    } finally {
      clearInterval(drip);
    }
    // A registered rank stays, however long it is quiet.
    const ranked = await registerRaw(ep, randomUUID());
    clients.push(ranked);
    expect((await ranked.closed(800)).closed).toBe(false);
  });

  it('caps connections per address: the N+1-th is refused, other addresses still register', async () => {
    const ep = await server({ maxConnectionsPerAddress: 20 });
    const held = await Promise.all(Array.from({ length: 20 }, () => rawClient(ep, { localAddress: '127.0.0.2' })));
    clients.push(...held);
    const extra = await rawClient(ep, { localAddress: '127.0.0.2' });
    clients.push(extra);
    const heard = await extra.closed();
    expect(heard).toEqual({ closed: true, lines: [{ t: 'error', message: expect.stringMatching(/too many connections.*127\.0\.0\.2/) }] });
    await stillServes(ep);
    // One of the held ones leaves: its address may connect again.
    held[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = await rawClient(ep, { localAddress: '127.0.0.2' });
    clients.push(again);
    again.socket.write(reg({ job: randomUUID() }) + '\n');
    await again.waitFor((m) => m.t === 'registered');
  });

  it('caps connections in all', async () => {
    const ep = await server({ maxConnections: 10 });
    clients.push(...(await Promise.all(Array.from({ length: 10 }, () => rawClient(ep)))));
    const extra = await rawClient(ep);
    expect(await extra.closed()).toEqual({ closed: true, lines: [{ t: 'error', message: expect.stringMatching(/too many connections \(10 in all\)/) }] });
    for (const c of clients.splice(0)) c.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    await stillServes(ep);
  });

  it('caps jobs and job sizes, and refuses a size other than the job has', async () => {
    const ep = await server({ maxJobs: 2, maxRanksPerJob: 8 });
    const a = await registerRaw(ep, 'a', 0, 8);
    const b = await registerRaw(ep, 'b', 0, 2);
    clients.push(a, b);
    expect([a.lines, b.lines]).toEqual([[{ t: 'registered' }], [{ t: 'registered' }]]);
    const third = await exchange(ep, reg({ job: 'c' }) + '\n');
    expect(third.lines).toEqual([{ t: 'error', message: expect.stringMatching(/too many jobs/) }]);
    const tooBig = await exchange(ep, reg({ job: 'a', rank: 8, size: 9 }) + '\n');
    expect(tooBig.lines).toEqual([{ t: 'error', message: expect.stringMatching(/above this server's limit of 8/) }]);
    const otherSize = await exchange(ep, reg({ job: 'b', rank: 1, size: 3 }) + '\n');
    expect(otherSize.lines).toEqual([{ t: 'error', message: expect.stringMatching(/other ranks said 2/) }]);
    const pairOut = await exchange(ep, pair({ job: 'b', from: 0, to: 5 }) + '\n');
    expect(pairOut.lines).toEqual([{ t: 'error', message: expect.stringMatching(/not both in \[0, 2\)/) }]);
    // Ranks of the jobs there still register.
    const b1 = await registerRaw(ep, 'b', 1, 2);
    clients.push(b1);
    expect(b1.lines).toEqual([{ t: 'registered' }]);
  });
});

describe('rendezvous server - fmi rendezvous and fmi run', () => {
  it('fmi rendezvous warns on 0.0.0.0 without secrets, prints health lines, exits 0 on SIGTERM', async () => {
    const { child, ep, stderr } = await cliServer(['--host', '0.0.0.0', '--health-interval', '0.2']);
    const c = await registerRaw({ host: '127.0.0.1', port: ep.port }, randomUUID());
    clients.push(c);
    await until(() => /health: 1 jobs, 1 ranks, 1 connections, [\d.]+ pairings\/s/.test(stderr()));
    expect(stderr()).toMatch(/warning: listening on every interface \(0\.0\.0\.0\) without --require-secret/);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect((await c.closed()).closed).toBe(true);
  });

  it('fmi rendezvous refuses bad limits with a usage error', async () => {
    // Side by side: each is a process start, seconds on a loaded machine.
    const bad = [['--max-jobs', '0'], ['--idle-timeout', 'soon'], ['--port', '99999']];
    const runs = await Promise.all(bad.map((args) => runCli(['rendezvous', ...args])));
    runs.forEach(({ code, stderr }, i) => {
      expect(code).toBe(2);
      expect(stderr).toMatch(new RegExp(`fmi: ${bad[i]![0]} needs`));
    });
  });

  it('a job under fmi run survives a bad client of its embedded server', async () => {
    const { code, stdout } = await runCli(['run', '-n', '2', `${root}test/fixtures/bad-client-rank.mjs`]);
    expect(stdout).toContain('[0] bad client got {"t":"error","message":"bad message: a message must be a JSON object, got null"}');
    expect(stdout).toContain('[0] sum 3');
    expect(stdout).toContain('[1] sum 3');
    expect(code).toBe(0);
  });
});

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

async function until(pred: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `fmi rendezvous` in a process of its own, on a free loopback port. */
async function cliServer(args: string[]): Promise<{ child: ChildProcess; ep: Endpoint; stderr: () => string }> {
  const child = spawn(process.execPath, [cli, 'rendezvous', '--port', '0', '--host', '127.0.0.1', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  await until(() => /listening on/.test(out) || child.exitCode !== null);
  const m = /listening on (.+):(\d+)/.exec(out);
  if (!m) throw new Error(`fmi rendezvous did not start: ${out} ${err}`);
  return { child, ep: { host: '127.0.0.1', port: Number(m[2]) }, stderr: () => err };
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { cwd: root });
    children.push(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
