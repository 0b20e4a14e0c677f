import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const fixture = `${root}test/fixtures/thread-rank.mjs`;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], cmd = 'run'): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, cmd, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const pidsOf = (out: string) => new Set([...out.matchAll(/pid (\d+)/g)].map((m) => m[1]));

// Ranks as worker threads: spawning processes that start threads is slow on a loaded machine.
describe('threads - fmi run --threads', { timeout: 120_000 }, () => {
  it('-n 4 --threads 2: two processes of two thread ranks; shared memory within, direct between, wildcards across both', async () => {
    const r = await run(['-n', '4', '--threads', '2', fixture, 'ok', 'a b']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const rank of [0, 1, 2, 3]) {
      expect(r.stdout).toContain(`[${rank}] pid `);
      expect(r.stdout).toMatch(new RegExp(`\\[${rank}\\] pid \\d+ thread \\d+ rank ${rank} size 4 args \\["a b"\\]`));
      expect(r.stdout).toContain(`[${rank}] sum 6 ring-from ${(rank + 3) % 4} any ${rank === 0 ? '1,2,3' : ''}`);
    }
    expect(pidsOf(r.stdout).size).toBe(2);
  });

  it('--threads alone: every rank in one process, no rendezvous traffic needed; --no-prefix', async () => {
    const r = await run(['-n', '3', '--threads', '--no-prefix', fixture, 'ok']);
    expect(r.code).toBe(0);
    expect(pidsOf(r.stdout).size).toBe(1);
    expect(r.stdout).toContain('sum 3 ring-from 2 any 1,2\n');
    expect(r.stdout).not.toContain('[0]');
  });

  it('process.exit(3) in a thread rank fails the job with code 3, and nothing hangs', async () => {
    const r = await run(['-n', '4', '--threads', '2', fixture, 'exit3']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('rank 2 exited with code 3');
  });

  it('an uncaught exception in a thread rank: printed with its prefix, the job fails', async () => {
    const r = await run(['-n', '3', '--threads', fixture, 'throw']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[1] Error: rank 1 fails on purpose');
  });

  it('process.chdir in a thread rank is a clear error that fails the job', async () => {
    const r = await run(['-n', '2', '--threads', fixture, 'chdir']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[1] TypeError [ERR_WORKER_UNSUPPORTED_OPERATION]: process.chdir() is not supported in workers');
  });

  it('a thread rank that exits 0 without closing: a peer waiting for it gets FMI_PEER_LOST, not a hang', async () => {
    const r = await run(['-n', '2', '--threads', fixture, 'exit0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[0] recv failed: FMI_PEER_LOST');
  });

  it('a thread rank that exits 0 without closing: the others, waiting in a barrier of the node arena, get FMI_PEER_LOST, not a hang', async () => {
    const r = await run(['-n', '3', '--threads', fixture, 'exit0-barrier']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[0] barrier failed: FMI_PEER_LOST');
    expect(r.stdout).toContain('[1] barrier failed: FMI_PEER_LOST');
  });

  it('init() twice in a thread rank: the second fails with FMI_CHANNEL, the first goes on', async () => {
    const r = await run(['-n', '2', '--threads', '--no-prefix', `${root}test/fixtures/init-twice.mjs`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { rank: number; second: unknown; sum: number });
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1]);
    for (const l of lines) expect(l).toMatchObject({ second: { ok: false, code: 'FMI_CHANNEL' }, sum: 3 });
  });

  it('a bad --threads is refused', async () => {
    const r = await run(['-n', '2', '--threads', '0', fixture, 'ok']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--threads needs a positive integer');
  });
});

describe('threads - C MPI programs', { timeout: 600_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fmi-shm-cc-'));
    // emcc is slow on a loaded machine: once, for the whole describe.
    const r = await run([`${root}test/mpi/coll.c`, '-O2', '-lm', '-o', join(dir, 'coll.js')], 'cc');
    expect(r.code, r.stderr).toBe(0);
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a program from fmi cc runs its collectives as thread ranks, in one process and in two', async () => {
    for (const threads of [[], ['2']]) {
      const r = await run(['-n', '4', '--threads', ...threads, join(dir, 'coll.js')]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\[0\] PASS coll on 4 ranks$/m);
    }
  });
});
