import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEndpoint } from '../../src/rendezvous/protocol.js';
import { answers, askServer } from './stranger.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const fixture = `${root}test/fixtures/secret-rank.mjs`;

interface Said {
  rank: number;
  pid: number;
  ppid: number;
  job: string;
  rendezvous: string;
}

/** The NUL-separated strings of a process's /proc file (cmdline, environ). */
const procStrings = (pid: number, file: string) => readFileSync(`/proc/${pid}/${file}`, 'latin1').split('\0');

describe('security - fmi run', () => {
  it('every job has a secret, in its ranks\' environment and on no command line; a stranger cannot join it', async () => {
    const go = join(tmpdir(), `fmi-go-${randomUUID()}`);
    const child = spawn(process.execPath, [cli, 'run', '-n', '2', fixture], { cwd: root, env: { ...process.env, FMI_TEST_GO: go } });
    let stdout = '';
    let stderr = '';
    const said: Said[] = [];
    const bothSaid = new Promise<void>((resolve) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        for (const m of stdout.matchAll(/^\[\d\] (\{.*\})$/gm)) {
          const s = JSON.parse(m[1]!) as Said;
          if (!said.some((x) => x.rank === s.rank)) said.push(s);
        }
        if (said.length === 2) resolve();
      });
    });
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await Promise.race([bothSaid, exited.then(() => { throw new Error(`fmi run ended early: ${stderr}`); })]);
      // Read while the ranks run: the secret from a rank's environment (readable by its user only) ...
      const secrets = said.map((s) => procStrings(s.pid, 'environ').find((e) => e.startsWith('FMI_SECRET='))?.slice('FMI_SECRET='.length));
      expect(secrets[0]).toBeDefined();
      expect(Buffer.byteLength(secrets[0]!)).toBeGreaterThanOrEqual(32);
      expect(secrets[1]).toBe(secrets[0]);
      // ... and on no command line: neither the ranks' nor the launcher's.
      for (const pid of [...said.map((s) => s.pid), said[0]!.ppid, child.pid!]) {
        expect(procStrings(pid, 'cmdline').join(' '), `pid ${pid}`).not.toContain(secrets[0]);
      }
      // A stranger who knows the server and the job id cannot take rank 1's place, nor learn rank 0's endpoints.
      const { job, rendezvous } = said[0]!;
      const server = parseEndpoint(rendezvous);
      expect(answers(await askServer(server, { t: 'register', job, rank: 1, size: 2 }))).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
      expect(answers(await askServer(server, { t: 'pair', job, from: 1, to: 0, priv: [] }))).toEqual([{ t: 'error', message: 'not authorized for this job' }]);
      writeFileSync(go, '');
      expect(await exited).toBe(0);
      expect(stdout).toContain('[0] exchanged: from 1');
      expect(stdout).toContain('[1] exchanged: from 0');
      expect(stdout + stderr).not.toContain(secrets[0]);
    } finally {
      child.kill('SIGKILL');
      rmSync(go, { force: true });
    }
  });
});
