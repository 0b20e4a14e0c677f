import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { init, RendezvousServer, type Communicator } from '../../src/index.js';

/**
 * TLS to the rendezvous server, with a self-signed certificate the test makes
 * with the `openssl` CLI (scripts/test.sh installs it): ranks that trust it
 * (FMI_RENDEZVOUS_CA) register, pair and exchange; ranks that do not, or that
 * dial it in plain TCP, are refused with FMI_CHANNEL; the server says nothing
 * in the clear.
 */

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'fmi-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
execFileSync(
  'openssl',
  ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', keyFile, '-out', certFile],
  { stdio: 'pipe' },
);
const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
const secret = () => randomBytes(32).toString('base64url');

/** Two ranks of a new job through `rendezvous`; each exchanges a message with the other, then both close. */
async function pairUp(rendezvous: string, env: NodeJS.ProcessEnv): Promise<number[]> {
  const job = randomUUID();
  const s = secret();
  const comms: Communicator[] = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, secret: s, rendezvous, env, timeoutMs: 10_000 })));
  try {
    const got = await Promise.all(comms.map((c) => c.sendrecv(c.rank * 10 + 1, 1 - c.rank, 1 - c.rank)));
    return got as number[];
  } finally {
    await Promise.all(comms.map((c) => c.close()));
  }
}

/** The first bytes a plain TCP client hears from `port` after sending a register line. */
function plainClient(port: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    sock.on('data', (d) => (got = Buffer.concat([got, d])));
    sock.on('error', () => {});
    sock.on('close', () => resolve(got));
    sock.on('connect', () => sock.write(`${JSON.stringify({ t: 'register', job: 'j', rank: 0, size: 2 })}\n`));
    setTimeout(() => sock.destroy(), 2000);
  });
}

describe('security - TLS to the rendezvous server', () => {
  it('ranks that trust its certificate register, pair and exchange over tls://', async () => {
    const server = new RendezvousServer({ tls, requireSecret: true });
    const { port } = await server.listen();
    try {
      expect(await pairUp(`tls://127.0.0.1:${port}`, { FMI_RENDEZVOUS_CA: certFile })).toEqual([11, 1]);
      // The CA as PEM text in init's options works as well; a name in the certificate as well as its IP.
      const job = randomUUID();
      const s = secret();
      const pem = readFileSync(certFile, 'utf8');
      const comms = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, secret: s, rendezvous: `tls://localhost:${port}`, rendezvousCa: pem, env: {} })));
      await Promise.all(comms.map((c) => c.barrier()));
      await Promise.all(comms.map((c) => c.close()));
      expect(server.stats().pairings).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('a rank that does not trust the certificate, or dials in plain TCP, is refused with FMI_CHANNEL; the server says nothing in the clear', async () => {
    const server = new RendezvousServer({ tls, requireSecret: true });
    const { port } = await server.listen();
    try {
      const job = randomUUID();
      // The system's roots do not know a self-signed certificate.
      await expect(init({ rank: 0, size: 2, job, secret: secret(), rendezvous: `tls://127.0.0.1:${port}`, env: {} })).rejects.toMatchObject({
        code: 'FMI_CHANNEL',
        message: expect.stringMatching(/self[- ]signed certificate/),
      });
      await expect(init({ rank: 0, size: 2, job, secret: secret(), rendezvous: `127.0.0.1:${port}`, env: {}, connectTimeoutMs: 3000 })).rejects.toMatchObject({ code: 'FMI_CHANNEL' });
      const heard = await plainClient(port);
      expect(heard.toString('latin1')).not.toContain('challenge');
      expect(heard.toString('latin1')).not.toContain('{');
      // A CA without tls:// is a mistake, not a silent plain connection.
      await expect(init({ rank: 0, size: 2, job, rendezvous: `127.0.0.1:${port}`, rendezvousCa: certFile, env: {} })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
      expect(server.stats().jobs).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('a client that never finishes its TLS handshake is dropped after the idle timeout', async () => {
    const server = new RendezvousServer({ tls, idleTimeoutMs: 300 });
    const { port } = await server.listen();
    try {
      const t0 = performance.now();
      const closed = await new Promise<boolean>((resolve) => {
        const sock = connect({ host: '127.0.0.1', port });
        sock.on('error', () => {});
        sock.on('close', () => resolve(true));
        setTimeout(() => {
          sock.destroy();
          resolve(false);
        }, 10_000);
      });
      expect(closed).toBe(true);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    } finally {
      await server.close();
    }
  });

  it('fmi rendezvous --tls-cert --tls-key serves tls://; a bad key file is one line and exit code 2', async () => {
    const child = spawn(process.execPath, [cli, 'rendezvous', '--host', '127.0.0.1', '--port', '0', '--require-secret', '--tls-cert', certFile, '--tls-key', keyFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (b: Buffer) => {
          const m = /listening on (tls:\/\/\S+)/.exec(b.toString());
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`fmi rendezvous exited (${code})`)));
      });
      expect(await pairUp(url, { FMI_RENDEZVOUS_CA: certFile })).toEqual([11, 1]);
    } finally {
      child.kill('SIGTERM');
    }
    const bad = spawn(process.execPath, [cli, 'rendezvous', '--port', '0', '--tls-cert', certFile, '--tls-key', certFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    bad.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((r) => bad.on('exit', r));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n').filter((l) => !l.includes('warning'))).toEqual([expect.stringMatching(/^fmi: FMI_CONFIG: the rendezvous server's TLS certificate or key is not usable/)]);
  });
});
