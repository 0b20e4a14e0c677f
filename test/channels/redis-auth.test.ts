import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisChannel } from '../../src/channels/redis/index.js';
import { connect as tlsConnect } from 'node:tls';
import { createConnection } from 'node:net';
import { freePort } from '../helpers/redis-server.js';

/**
 * The Redis channel against servers that want credentials (a password, an
 * ACL user) and one that speaks only TLS (`rediss://`, a self-signed
 * certificate made here with openssl).
 */

const dir = mkdtempSync(join(tmpdir(), 'fmi-redis-auth-'));
let server: { port: number; url: string; stop(): Promise<void> };
beforeAll(async () => {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'hunter2', '--user', 'alice', 'on', '>wonder-land', '~*', '&*', '+@all'];
  // Up once it answers, even if only to say it wants a password.
  const s = await startServer(args, () => answers(port));
  server = { ...s, port, url: `redis://127.0.0.1:${port}` };
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const withAuth = (auth: string) => `redis://${auth}@127.0.0.1:${server.port}`;

/** Two ranks on `url`: a message each way and a value, then both close. */
async function roundTrip(url: string): Promise<void> {
  const job = randomUUID();
  const [r0, r1] = await Promise.all([0, 1].map((rank) => RedisChannel.create({ url, job, rank, size: 2, aliveMs: 600 })));
  try {
    await r0!.send(1, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([1, 2, 3]));
    expect(Array.from((await r1!.recv({ source: 0, ctx: 0, tag: 1 })).data)).toEqual([1, 2, 3]);
    await r1!.put('v', 11, new Uint8Array([4, 5]), 1);
    expect(Array.from((await r0!.get('v', undefined, 1)).data)).toEqual([4, 5]);
  } finally {
    await Promise.all([r0!.close(), r1!.close()]);
  }
}

describe('redis - authentication', () => {
  it('the default user with a password works (redis://:pass@host:port)', async () => {
    await roundTrip(withAuth(':hunter2'));
  });

  it('an ACL user works (redis://user:pass@host:port)', async () => {
    await roundTrip(withAuth('alice:wonder-land'));
  });

  it('a wrong password or no password is FMI_CHANNEL naming the server, never the password', async () => {
    for (const auth of ['alice:not-the-password', ':not-the-password']) {
      const err = await RedisChannel.create({ url: withAuth(auth), job: 'x', rank: 0, size: 2 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'FMI_CHANNEL', channel: 'redis' });
      const text = `${(err as Error).message} ${JSON.stringify(err)}`;
      expect(text).toContain(`127.0.0.1:${server.port}`);
      expect(text).toMatch(/WRONGPASS|invalid/i);
      expect(text).not.toContain('not-the-password');
    }
    const anonymous = await RedisChannel.create({ url: server.url, job: 'x', rank: 0, size: 2 }).catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ code: 'FMI_CHANNEL', message: expect.stringMatching(/NOAUTH|authentication/i) });
  });
});

describe('redis - TLS', () => {
  it('rediss:// to a TLS-only server with a self-signed certificate (trusted through NODE_EXTRA_CA_CERTS)', async () => {
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    expect(made.status, `openssl: ${made.error?.message ?? made.stderr}`).toBe(0);
    const tls = await startTlsRedis(cert, key);
    try {
      const dist = new URL('../../dist/channels/redis/index.js', import.meta.url).href;
      const url = `rediss://127.0.0.1:${tls.port}`;
      const script = `
        const { RedisChannel } = await import(${JSON.stringify(dist)});
        const job = 'tls-' + Date.now();
        const [r0, r1] = await Promise.all([0, 1].map((rank) => RedisChannel.create({ url: ${JSON.stringify(url)}, job, rank, size: 2, aliveMs: 600 })));
        await r0.send(1, { ctx: 0, tag: 1, kind: 11 }, new Uint8Array([7]));
        const m = await r1.recv({ source: 0, ctx: 0, tag: 1 });
        await r1.put('v', 11, new Uint8Array([8]), 1);
        const v = await r0.get('v', undefined, 1);
        await Promise.all([r0.close(), r1.close()]);
        process.stdout.write(JSON.stringify([...m.data, ...v.data]) + '\\n');
      `;
      const out = await run(script, { NODE_EXTRA_CA_CERTS: cert });
      expect(out.trim()).toBe('[7,8]');
      // Without the certificate trusted, a clear FMI_CHANNEL (the URL has no password to leak).
      const refused = await RedisChannel.create({ url, job: 'x', rank: 0, size: 1, timeoutMs: 2000 }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'FMI_CHANNEL', message: expect.stringMatching(/certificate/i) });
    } finally {
      await tls.stop();
    }
  }, 30_000);
});

function run(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`rank process exited with ${code}: ${err.slice(-1000)}`));
    });
  });
}

/** A redis-server that listens on TLS only; up once a TLS handshake succeeds. */
async function startTlsRedis(cert: string, key: string): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'];
  const handshake = () =>
    new Promise<boolean>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  return { port, ...(await startServer(args, handshake)) };
}

/** One PING over a plain socket: true on any reply (+PONG, or -NOAUTH from a server with a password). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.setTimeout(500, () => (sock.destroy(), resolve(false)));
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', () => (sock.destroy(), resolve(true)));
  });
}

/** Starts redis-server with `args`, waits until `up()`; SIGKILLs it at stop (or when the test process exits). */
async function startServer(args: string[], up: () => Promise<boolean>): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  const stop = async () => {
    process.off('exit', reap);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  for (let i = 0; !(await up()); i++) {
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`redis-server ${args.join(' ')} did not start`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return { stop };
}
