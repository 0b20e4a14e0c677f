import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../src/mpi/index.js';

// test/mpi/lifetimes.c: handles freed while something still uses them.
// Under fmi and under native Open MPI, which must give the same verdict.
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist/cli/main.js');
const source = join(root, 'test/mpi/lifetimes.c');
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fmi-mpi-lifetimes-'));
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn(process.execPath, [cli, 'cc', source, '-O2', '-o', join(dir, 'lifetimes.js')], { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('exit', resolve);
  });
  expect(code).toBe(0);
  const cc = spawnSync('mpicc', ['-O1', '-w', '-I', join(root, 'test/mpi'), source, '-o', join(dir, 'lifetimes-native')], { encoding: 'utf8' });
  if (cc.error || cc.status !== 0) throw new Error(`mpicc lifetimes.c failed (apt-get install openmpi-bin libopenmpi-dev): ${cc.error?.message ?? cc.stderr}`);
}, 600_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function fmi(n: number): Promise<{ codes: number[]; out: string }> {
  const lines: string[] = [];
  const codes = await runInProcess(join(dir, 'lifetimes.js'), { ranks: n, timeoutMs: 60_000, stdout: (_r, l) => lines.push(l), stderr: (_r, l) => lines.push(l) });
  return { codes, out: lines.join('\n') };
}

describe('handle lifetimes (grequest free_fn, freed communicators and groups)', () => {
  it.each([1, 2, 3, 5, 8])('passes on %i ranks', async (n) => {
    const r = await fmi(n);
    expect(r.codes, r.out).toEqual(new Array(n).fill(0));
    expect(r.out).toContain(`PASS lifetimes on ${n} ranks`);
    expect(r.out).not.toMatch(/FAIL/);
  }, 120_000);

  it.each([2, 3, 5])('gives the verdict native Open MPI gives on %i ranks', async (n) => {
    const native = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-n', String(n), join(dir, 'lifetimes-native')], {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, OMPI_MCA_btl_vader_single_copy_mechanism: 'none' },
    });
    const verdict = (out: string) => out.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
    expect(verdict(native.stdout), `${native.stdout}\n${native.stderr}`).toEqual([`PASS lifetimes on ${n} ranks`]);
    expect(verdict((await fmi(n)).out)).toEqual(verdict(native.stdout));
  }, 180_000);
});
