import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobResult, ProgramResult } from '../../src/lambda/index.js';
import { builtProgram } from '../helpers/built-program.js';
import { doubles, job, root, type Double } from './job-setup.js';

/*
 * lambdaProgram(path, { ranksPerFunction: 2 }) (issue 13): a C program from
 * `fmi cc` runs two ranks per invocation, each main() in a worker thread of
 * the function; through the Invoke API test double, each invocation a
 * process of its own.
 */

const HANDLER = join(root, 'test/lambda/fixtures/program-threads-handler.mjs');
const ONE = join(root, 'test/lambda/fixtures/program-handler.mjs');

const double = doubles();

async function jobOf(program: string, o: { ranks: number; ranksPerFunction?: number; input?: unknown; module?: string }): Promise<{ d: Double; r: JobResult<ProgramResult> }> {
  const env = { FMI_TEST_PROGRAM: program };
  const d = await double({ functions: { f: { module: o.module ?? HANDLER, timeoutMs: 300_000, memoryMiB: 2048, env } } });
  const r = await job<ProgramResult>(d, {
    functionName: 'f',
    ranks: o.ranks,
    ranksPerFunction: o.ranksPerFunction ?? 2,
    input: o.input,
    connectTimeoutMs: 240_000,
  });
  return { d, r };
}

describe('lambda - a C program, several ranks per function (lambdaProgram ranksPerFunction)', () => {
  let hello: string;
  let exit: string;
  beforeAll(async () => {
    // emcc is slow on a busy machine: one at a time.
    hello = await builtProgram('hello');
    exit = await builtProgram('exit');
  }, 900_000);

  it('4 ranks as 2 functions x 2 threads: main runs on every rank, the reduce crosses threads and functions', async () => {
    const { d, r } = await jobOf(hello, { ranks: 4, input: { args: ['a', 'b'] } });
    expect(r.ranks.map((o) => o.status), JSON.stringify(r.ranks.map((o) => o.error))).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(r.ranks.map((o) => o.function)).toEqual([0, 0, 1, 1]);
    for (const [k, o] of r.ranks.entries()) {
      expect(o.result!.exitCode).toBe(0);
      expect(o.result!.stdout[0]).toBe(`hello from rank ${k} of 4 (MPI 3.1, argc 3)`);
    }
    expect(r.ranks[0]!.result!.stdout).toContain('PASS hello 4');
    // Two invocations, not four.
    expect(d.calls.map((c) => c.rank).sort()).toEqual([0, 2]);
  }, 300_000);

  it('a thread rank whose main returns non-zero is FMI_EXIT_STATUS with its output; the other ranks are ok', async () => {
    // exit.c: argv[1] is the exit code of every rank; each prints its argv and one stderr line.
    const { r } = await jobOf(exit, { ranks: 4, input: { args: ['5'] } });
    for (const [k, o] of r.ranks.entries()) {
      expect(o.status).toBe('error');
      expect(o.error).toMatchObject({ code: 'FMI_EXIT_STATUS', message: `the program exited with status 5: rank ${k} to stderr` });
      expect(o.result).toMatchObject({ exitCode: 5, stdout: [`rank ${k} argc 2: [5]`], stderr: [`rank ${k} to stderr`] });
    }
  }, 300_000);

  it('a one-rank program handler invoked two ranks per function says which --ranks-per-function to pass', async () => {
    const { r } = await jobOf(hello, { ranks: 2, module: ONE });
    for (const o of r.ranks) expect(o).toMatchObject({ status: 'error', error: { code: 'FMI_CONFIG', message: expect.stringContaining('--ranks-per-function 1') } });
  }, 120_000);
});
