import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { init, RendezvousServer } from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const fixture = `${root}test/fixtures/ranks.mjs`;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const pids = (out: string) => [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('launcher - fmi run', () => {
  it('runs N ranks, prefixes their output, passes args, exits 0', async () => {
    const r = await run([cli, 'run', '-n', '3', fixture, 'ok', '--flag', 'x y']);
    expect(r.code).toBe(0);
    for (const rank of [0, 1, 2]) {
      expect(r.stdout).toContain(`[${rank}] pid`);
      expect(r.stdout).toContain(`[${rank}] sum 3`);
      expect(r.stderr).toContain(`[${rank}] stderr line from ${rank}`);
    }
    expect(r.stdout).toContain('args ["--flag","x y"]');
  });

  it('a rank that throws makes fmi run exit non-zero, with every process gone', async () => {
    const r = await run([cli, 'run', '-n', '4', fixture, 'throw']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('rank 1 fails on purpose');
    expect(r.stderr).toMatch(/rank 1 exited with code 1; stopping the other ranks/);
    const ps = pids(r.stdout);
    expect(ps).toHaveLength(4);
    for (const pid of ps) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it('the first failing exit code is the launcher\'s', async () => {
    const r = await run([cli, 'run', '-n', '3', fixture, 'exit3']);
    expect(r.code).toBe(3);
    for (const pid of pids(r.stdout)) expect(alive(pid)).toBe(false);
  });

  it('rejects bad usage with exit code 2', async () => {
    expect((await run([cli, 'run', '-n', '0', fixture])).code).toBe(2);
    expect((await run([cli, 'run', fixture])).code).toBe(2);
    expect((await run([cli, 'nope'])).code).toBe(2);
    const help = await run([cli, '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('fmi run -n N');
  });
});

describe('launcher - ranks started by hand against a rendezvous server', () => {
  it('a rank killed mid-job fails its peers\' receives with FMI_PEER_LOST', async () => {
    const server = new RendezvousServer();
    const addr = await server.listen();
    const env = { FMI_SIZE: '2', FMI_JOB: randomUUID(), FMI_RENDEZVOUS: `${addr.host}:${addr.port}` };
    const [r0, r1] = await Promise.all([0, 1].map((rank) => run([fixture, 'killed'], { ...env, FMI_RANK: String(rank) })));
    await server.close();
    expect(r1!.code).toBe(null); // SIGKILL
    expect(r0!.code).toBe(0);
    expect(r0!.stdout).toContain('recv failed: FMI_PEER_LOST');
  });
});

describe('launcher - fmi rendezvous', () => {
  it('serves ranks and shuts down cleanly on SIGTERM', async () => {
    const p = spawn(process.execPath, [cli, 'rendezvous', '--port', '0', '--host', '127.0.0.1'], { cwd: root });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const port = await new Promise<number>((resolve) => {
      p.stdout.on('data', () => {
        const m = /listening on [\d.]+:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
    });
    const job = randomUUID();
    const comms = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, rendezvous: `127.0.0.1:${port}`, env: {} })));
    await Promise.all(comms.map((c) => c.barrier()));
    await Promise.all(comms.map((c) => c.close()));
    const code = await new Promise<number | null>((resolve) => {
      p.on('exit', (c) => resolve(c));
      p.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(out).toContain('rank 1/2 registered');
    expect(out).toContain('SIGTERM, shutting down');
  });
});
