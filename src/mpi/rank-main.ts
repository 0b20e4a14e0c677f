// One rank of `fmi run -n N prog.js`: the launcher starts this script with the
// program and its arguments, and the environment init() reads (FMI_RANK,
// FMI_SIZE, FMI_JOB, FMI_RENDEZVOUS).
import { delimiter } from 'node:path';
import { MOUNT_ENV, runProgram } from './program.js';

const [program, ...args] = process.argv.slice(2);
if (!program) {
  process.stderr.write('usage: node rank-main.js <program.js> [args...]\n');
  process.exit(2);
}
const mounts = process.env[MOUNT_ENV]?.split(delimiter).filter(Boolean) ?? [];
let code: number;
try {
  code = await runProgram(program, args, { argv0: program, mounts });
} catch (err) {
  // The program never ran (not built by fmi cc, a .wasm that does not compile):
  // one line that says why, and a failure the launcher stops the job on at once.
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`fmi: cannot run ${program}: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}\n`);
  code = 1;
}
// Let stdout/stderr drain before leaving.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
process.exit(code);
