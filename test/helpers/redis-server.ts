import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A port nobody listens on right now: bind port 0, read it, let it go. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** One PING over a fresh socket; true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
  });
}

/**
 * Starts a real redis-server on a free loopback port, without persistence, and
 * waits until it answers PING. Throws if redis-server is not installed
 * (scripts/test.sh installs it): these tests never skip.
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const which = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) {
    throw new Error(`redis-server is not installed (run scripts/test.sh, or apt-get install redis-server): ${which.error?.message ?? which.stderr}`);
  }
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Redis logs to stdout, its startup errors included; keep the tail for the error message.
    let log = '';
    const keep = (d: Buffer) => (log = (log + d.toString()).slice(-2000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let spawnError: Error | undefined;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', (e) => {
        spawnError = e;
        resolve(null);
      });
    });
    const deadline = Date.now() + 10_000;
    let up = false;
    while (!up && Date.now() < deadline && child.exitCode === null && !spawnError) {
      up = await ping(port);
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    if (up) {
      // A test process that dies without afterAll must not leave the server running.
      const reap = () => child.kill('SIGKILL');
      process.once('exit', reap);
      const stopServer = async () => {
        process.off('exit', reap);
        await stop(child, exited);
      };
      return { url: `redis://127.0.0.1:${port}`, port, stop: stopServer };
    }
    if (spawnError) throw new Error(`cannot start redis-server: ${spawnError.message}`);
    child.kill('SIGKILL');
    await exited;
    // Another process may have taken the port between our probe and redis-server's bind.
    if (attempt >= 2) throw new Error(`redis-server did not start on port ${port}: ${log.trim() || 'no answer to PING'}`);
  }
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}
