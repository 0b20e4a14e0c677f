import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const index = new URL('../dist/index.js', import.meta.url).href;

/** Runs `body` in a fresh node process after `const c = await init()` (a one-rank world). */
function rank(body: string) {
  const src = `import { init } from ${JSON.stringify(index)};\nconst c = await init();\n${body}`;
  // The bound only turns a process that never exits into a failure (status null), it times nothing.
  return spawnSync(process.execPath, ['--input-type=module', '-e', src], { cwd: root, encoding: 'utf8', timeout: 60_000 });
}

describe('deadline - a pending operation with a timeout in a real process', () => {
  it('a recv that nothing will match fails with FMI_TIMEOUT: the process waits for the deadline instead of exiting 13', () => {
    const r = rank(`
const err = await c.recv(0, { tag: 5, timeoutMs: 200 }).then(() => undefined, (e) => e);
console.log(JSON.stringify({ code: err?.code, op: err?.op }));
await c.close();`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ code: 'FMI_TIMEOUT', op: 'recv' });
  });

  it('operations that completed leave no timer behind: the process exits though their deadlines are far off', () => {
    const r = rank(`
await c.send('a', 0, { tag: 1, timeoutMs: 3_600_000 });
const got = await c.recv(0, { tag: 1, timeoutMs: 3_600_000 });
const back = await c.sendrecv('b', 0, 0, { timeoutMs: 3_600_000 });
const sum = await c.allreduce(2, (await import(${JSON.stringify(index)})).Op.SUM, { timeoutMs: 3_600_000 });
console.log(JSON.stringify([got, back, sum]));
await c.close();`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(['a', 'b', 2]);
  });
});
