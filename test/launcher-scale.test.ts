import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * fmi run with many ranks (issue 13): 64 ranks on 2 cores take tens of
 * seconds to start, longer than init()'s 30 s connect timeout once the
 * machine is busy, so a rank gave up on a peer that was still starting
 * ("could not connect to rank 32 within 30000 ms ... has rank 32
 * started?"). The launcher sets FMI_CONNECT_TIMEOUT_MS to 2 s per rank
 * above 15 ranks, unless the user set it.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const script = `${root}test/fixtures/env-rank.mjs`;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const e = { ...process.env, ...env };
    if (!('FMI_CONNECT_TIMEOUT_MS' in env)) delete e.FMI_CONNECT_TIMEOUT_MS;
    const p = spawn(process.execPath, [cli, 'run', ...args], { cwd: root, env: e });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const timeouts = (out: string) => [...out.matchAll(/connect timeout (\S+)/g)].map((m) => m[1]);

describe('launcher - many ranks', { timeout: 180_000 }, () => {
  it('the connect timeout grows with the rank count: 30 s up to 15 ranks, 2 s per rank beyond', async () => {
    const few = await run(['-n', '3', script]);
    expect(few.code, few.stderr).toBe(0);
    expect(timeouts(few.stdout)).toEqual(['30000', '30000', '30000']);
    // Thread ranks: 40 ranks in 2 processes, cheap to start.
    const many = await run(['-n', '40', '--threads', '20', script]);
    expect(many.code, many.stderr).toBe(0);
    expect(timeouts(many.stdout)).toEqual(Array(40).fill('80000'));
  });

  it("the user's FMI_CONNECT_TIMEOUT_MS wins", async () => {
    const r = await run(['-n', '20', '--threads', '20', script], { FMI_CONNECT_TIMEOUT_MS: '1234' });
    expect(r.code, r.stderr).toBe(0);
    expect(timeouts(r.stdout)).toEqual(Array(20).fill('1234'));
  });
});
