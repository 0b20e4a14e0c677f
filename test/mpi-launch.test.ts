import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// fmi cc and fmi run as a user meets them: real emcc, real processes.
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/main.js');
const src = (name: string) => join(root, 'test/mpi', name);
const slowExit = join(root, 'test/fixtures/slow-exit-rank.mjs');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
const prog = (name: string) => join(dir, `${name}.js`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fmi-mpi-launch-'));
  const built = await node([cli, 'cc', src('failfirst.c'), '-O2', '-o', prog('failfirst')]);
  expect(built.code, built.stderr).toBe(0);
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('fmi run names the rank that failed first', () => {
  // rank 2 fails on its own; ranks 0, 1, 3 then lose it as a peer (FMI_PEER_LOST).
  for (const how of ['abort', 'exit', 'return', 'file']) {
    it(`rank 2 fails (${how}) and leaves its process last: the launcher still names it, with its code`, async () => {
      const r = await node([cli, 'run', '-n', '4', slowExit, prog('failfirst'), how], { env: { FMI_SLOW_EXIT_RANK: '2' } });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^fmi run: rank 2 exited with code 3; stopping the other ranks$/m);
      expect(r.stderr).not.toMatch(/^fmi run: rank [013] exited/m);
      // The peers failed after it (unless MPI_Abort's stop reached them first), and the launcher says so.
      if (how !== 'abort') expect(r.stderr).toMatch(/^fmi run: ranks? [0-3, ]+ failed after losing a peer \(FMI_PEER_LOST\); the first rank that failed on its own: rank 2 exited with code 3$/m);
      expect(r.stdout).not.toMatch(/PASS/);
    }, 120_000);
  }

  it('without the delay, too', async () => {
    const r = await node([cli, 'run', '-n', '4', prog('failfirst'), 'file']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^\[2\] rank 2: cannot open input: No such file or directory$/m);
    expect(r.stderr).toMatch(/^fmi run: rank 2 exited with code 3; stopping the other ranks$/m);
  }, 120_000);

  it('a job where only peers failed still fails, with their code, once the grace time is over', async () => {
    // Rank 2 is never seen failing: it was killed by the launcher's stop after the grace time.
    const r = await node([cli, 'run', '-n', '3', slowExit, prog('failfirst'), 'return'], { env: { FMI_SLOW_EXIT_RANK: '2', FMI_SLOW_EXIT_MS: '60000' } });
    expect(r.code, r.stderr).toBe(15);
    expect(r.stderr).toMatch(/^fmi run: rank [01] exited with code 15 after losing a peer \(FMI_PEER_LOST\), and no rank failed on its own within 2000 ms; stopping the other ranks$/m);
  }, 120_000);
});
