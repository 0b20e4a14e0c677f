import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

describe('security - init twice', () => {
  it('a second init() of the same rank in one process is refused with FMI_CHANNEL, and the first communicator keeps working', async () => {
    const { stdout } = await run(process.execPath, [`${root}dist/cli/main.js`, 'run', '-n', '2', `${root}test/fixtures/init-twice.mjs`], { cwd: root, timeout: 30_000 });
    const lines = [...stdout.matchAll(/^\[\d\] (\{.*\})$/gm)].map((m) => JSON.parse(m[1]!));
    expect(lines.map((l) => l.rank).sort()).toEqual([0, 1]);
    for (const l of lines) {
      expect(l.second).toEqual({ ok: false, code: 'FMI_CHANNEL' });
      expect(l.sum).toBe(3);
    }
  });
});
