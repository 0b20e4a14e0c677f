import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  const built = await Promise.all(['failfirst', 'bigmem'].map((p) => node([cli, 'cc', src(`${p}.c`), '-O2', '-o', prog(p)])));
  for (const b of built) expect(b.code, b.stderr).toBe(0);
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

  it('a program that does not load (a corrupt .wasm): each rank says why in one line, and the job stops at once', async () => {
    const broken = join(dir, 'broken');
    mkdirSync(broken, { recursive: true });
    copyFileSync(prog('failfirst'), join(broken, 'failfirst.js'));
    writeFileSync(join(broken, 'failfirst.wasm'), 'not wasm');
    const r = await node([cli, 'run', '-n', '3', join(broken, 'failfirst.js'), 'return']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^\[[0-2]\] fmi: cannot run \S*failfirst\.js: CompileError: WebAssembly\.compile\(\): expected magic word/m);
    expect(r.stderr).toMatch(/^fmi run: rank [0-2] exited with code 1 before it registered with the rendezvous server; stopping the other ranks$/m);
    expect(r.stderr).not.toMatch(/triggerUncaughtException|FMI_PEER_LOST|timed out/);
  }, 120_000);

  it('a job where only peers failed still fails, with their code, once the grace time is over', async () => {
    // Rank 2 is never seen failing: it was killed by the launcher's stop after the grace time.
    const r = await node([cli, 'run', '-n', '3', slowExit, prog('failfirst'), 'return'], { env: { FMI_SLOW_EXIT_RANK: '2', FMI_SLOW_EXIT_MS: '60000' } });
    expect(r.code, r.stderr).toBe(15);
    expect(r.stderr).toMatch(/^fmi run: rank [01] exited with code 15 after losing a peer \(FMI_PEER_LOST\), and no rank failed on its own within 2000 ms; stopping the other ranks$/m);
  }, 120_000);
});

describe('fmi cc', () => {
  it('gives a program 4 GiB of memory: a 2 GiB receive buffer, data past the 2 GiB mark', async () => {
    const r = await node([cli, 'run', '-n', '2', prog('bigmem')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[0\] PASS bigmem on 2 ranks$/m);
    expect(r.stdout).not.toMatch(/FAIL/);
  }, 120_000);

  it('-w does not hide a missing main(): the link fails, saying so', async () => {
    const c = join(dir, 'nomain.c');
    writeFileSync(c, '#include <mpi.h>\nint helper(void) { return MPI_VERSION; }\n');
    const r = await node([cli, 'cc', c, '-O2', '-w', '-o', join(dir, 'nomain.js')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nomain\.js: the program defines no main\(\)/);
  }, 300_000);

  it('refuses -sNODERAWFS=1, naming --mount', async () => {
    const r = await node([cli, 'cc', src('failfirst.c'), '-sNODERAWFS=1', '-o', join(dir, 'raw.js')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/-sNODERAWFS=1 is not supported .*fmi run --mount DIR/);
    expect(existsSync(join(dir, 'raw.js'))).toBe(false);
  });
});

describe('fmi run --mount', () => {
  it('gives the ranks a host directory at its own path, and the working directory in it', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'input.txt'), '40\n');
    // Rank 2 reads input.txt (relative: the cwd is in the mount), the others add 1 each.
    const r = await node([cli, 'run', '-n', '3', '--mount', data, prog('failfirst'), 'file', 'input.txt'], { cwd: data });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\[2\] rank 2 read 40$/m);
    expect(r.stdout).toMatch(/^\[0\] PASS failfirst on 3 ranks \(sum 42\)$/m);
    // Without --mount the program's file system is its own (in memory): the file is not there.
    const without = await node([cli, 'run', '-n', '3', prog('failfirst'), 'file', join(data, 'input.txt')], { cwd: data });
    expect(without.code).toBe(3);
    expect(without.stderr).toMatch(/^\[2\] rank 2: cannot open input: No such file or directory$/m);
  }, 120_000);

  it('a --mount that is not a directory is an FMI_CONFIG error before any rank starts', async () => {
    const r = await node([cli, 'run', '-n', '2', '--mount', join(dir, 'nowhere'), prog('failfirst')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^fmi: FMI_CONFIG: --mount .*nowhere: not a directory$/m);
  });
});
