import { beforeAll, describe, expect, it } from 'vitest';
import { builtProgram } from './helpers/built-program.js';
import { fmiRun } from './helpers/fmi-run.js';

/*
 * C MPI programs from `fmi cc` with their ranks as worker threads (issue
 * 13): conformance programs of test/mpi/ (see test/mpi-conformance.test.ts)
 * under `fmi run --threads`, all ranks in one process and two processes of
 * thread ranks (shared memory within, direct TCP between). Each prints
 * "PASS <name> on <n> ranks" at rank 0 when its checks hold. Every program
 * of the conformance suite passed this way on 4 ranks when this was
 * written; these cover matching and wildcards, collectives, communicator
 * creation, intercommunicators and error handlers.
 */

const PROGRAMS = ['ch3-p2p', 'ch5-coll', 'ch6-comm', 'intercomm', 'ch8-errhandler'];

const run = fmiRun;

describe('threads - MPI conformance programs as thread ranks', { timeout: 600_000 }, () => {
  const built = new Map<string, string>();
  beforeAll(async () => {
    // emcc is slow on a loaded machine: one at a time, kept between runs (builtProgram).
    for (const p of PROGRAMS) built.set(p, await builtProgram(p));
  }, 1_800_000);

  for (const name of PROGRAMS) {
    it(`${name}: PASS on 4 ranks in one process (--threads), in 2 processes of 2 (--threads 2), and on 3 ranks as 2 + 1`, async () => {
      for (const [n, threads] of [[4, []], [4, ['--threads', '2']], [3, ['--threads', '2']]] as const) {
        const r = await run(['-n', String(n), ...(threads.length ? threads : ['--threads']), built.get(name)!]);
        const what = `-n ${n} ${threads.join(' ') || '--threads'}:\n${r.stdout}\n${r.stderr}`;
        expect(r.code, what).toBe(0);
        expect(r.stdout, what).toMatch(new RegExp(`^\\[0\\] PASS ${name} on ${n} ranks$`, 'm'));
        expect(r.stdout, what).not.toMatch(/FAIL/);
      }
    });
  }
});
