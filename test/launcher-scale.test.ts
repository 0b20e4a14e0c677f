import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * fmi run with many ranks (issue 13): 64 ranks on 2 cores take minutes to
 * start under load, longer than init()'s 30 s connect timeout, so a rank gave
 * up on a peer that was still starting ("could not connect to rank 32 within
 * 30000 ms ... has rank 32 started?"). fmi run is now its job's launcher at
 * the rendezvous server: a peer it is still starting is waited for without a
 * clock, and one whose process exits before it registers is given up at once.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const late = `${root}test/fixtures/late-rank.mjs`;
const env = `${root}test/fixtures/env-rank.mjs`;

function run(args: string[], extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const e = { ...process.env, ...extra };
    if (!('FMI_CONNECT_TIMEOUT_MS' in extra)) delete e.FMI_CONNECT_TIMEOUT_MS;
    const t0 = Date.now();
    const p = spawn(process.execPath, [cli, 'run', ...args], { cwd: root, env: e });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}

describe('launcher - many ranks', { timeout: 180_000 }, () => {
  it('a peer still starting is waited for past the connect timeout', async () => {
    // Rank 2 starts 9 s late; ranks 0 and 1 give up on a pair after 3 s, unless they hear it is starting
    // (the clock runs again once the pair is introduced: 3 s for a loopback connection, even under load).
    const r = await run(['-n', '3', '--no-prefix', late], { FMI_CONNECT_TIMEOUT_MS: '3000', LATE_MS: '9000' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rank 0 got 0/);
    expect(r.stdout).toMatch(/rank 1 got 1/);
  });

  it('a thread rank still starting is waited for too', async () => {
    const r = await run(['-n', '4', '--threads', '2', '--no-prefix', late], { FMI_CONNECT_TIMEOUT_MS: '3000', LATE_MS: '9000', FMI_SHM: '0' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/rank 0 got 0/);
  });

  it('a rank that exits before it registers is given up at once: its peers fail with FMI_PEER_LOST, not after their timeout', async () => {
    const r = await run(['-n', '3', '--no-prefix', late], { FMI_CONNECT_TIMEOUT_MS: '600000', LATE_MS: '500', LEAVE: '1' });
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    // The first rank that fails makes fmi run stop the other, which may not get to say so.
    expect(r.stdout).toMatch(/rank [01] failed with FMI_PEER_LOST/);
    expect(r.stdout).not.toMatch(/FMI_CHANNEL/);
    expect(r.ms).toBeLessThan(120_000);
  });

  it('the launcher says a rank failed before it registered', async () => {
    const r = await run(['-n', '3', '--no-prefix', late], { FMI_CONNECT_TIMEOUT_MS: '600000', LEAVE: '1', LEAVE_CODE: '7' });
    expect(r.code, r.stdout + r.stderr).toBe(7);
    expect(r.stderr).toContain('rank 2 exited with code 7 before it registered with the rendezvous server');
  });

  it('fmi run sets no connect timeout of its own; the user\'s FMI_CONNECT_TIMEOUT_MS reaches the ranks', async () => {
    const few = await run(['-n', '20', '--threads', '20', env]);
    expect(few.code, few.stderr).toBe(0);
    expect([...few.stdout.matchAll(/connect timeout (\S+)/g)].map((m) => m[1])).toEqual(Array(20).fill('undefined'));
    const r = await run(['-n', '3', env], { FMI_CONNECT_TIMEOUT_MS: '1234' });
    expect([...r.stdout.matchAll(/connect timeout (\S+)/g)].map((m) => m[1])).toEqual(Array(3).fill('1234'));
  });
});
