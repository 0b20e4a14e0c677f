import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV } from '../comm/init.js';
import { createRegion } from '../channels/shm/region.js';
import { RANK_MAIN } from '../mpi/index.js';
import { isCompiledProgram } from './cc.js';
import { startRankThread } from './rank-threads.js';

/**
 * One process of `fmi run --threads`: runs the ranks FMI_THREAD_RANKS
 * ("first,count") of the job as worker threads that share one shared-memory
 * region. Each worker runs the user's script unchanged, with FMI_RANK set in
 * its own process.env copy. Exits like a rank process would: 0 when every
 * rank exited 0, else at once with the first failing rank's code.
 */
export const THREAD_RANKS = 'FMI_THREAD_RANKS';
/** "0": no "[rank] " prefixes on output lines (fmi run --no-prefix). */
export const THREAD_PREFIX = 'FMI_THREAD_PREFIX';

export const THREAD_HOST = new URL('./thread-host.js', import.meta.url);

async function main(argv: string[]): Promise<number> {
  const [script, ...args] = argv;
  const [first, count] = (process.env[THREAD_RANKS] ?? '').split(',').map(Number);
  if (script === undefined || !Number.isInteger(first) || !Number.isInteger(count) || count! < 1) {
    process.stderr.write(`fmi thread host: needs ${THREAD_RANKS}=first,count and a script\n`);
    return 2;
  }
  const job = process.env[ENV.job] ?? '';
  const ranks = Array.from({ length: count! }, (_, i) => first! + i);
  const region = createRegion(ranks, bytesFromEnv('FMI_SHM_RING_BYTES'), bytesFromEnv('FMI_SHM_STAGING_BYTES'));
  const prefix = process.env[THREAD_PREFIX] !== '0';
  const compiled = isCompiledProgram(script);
  const entry = compiled ? fileURLToPath(RANK_MAIN) : resolve(script);
  const workerArgv = compiled ? [script, ...args] : args;
  let failure: { rank: number; code: number } | undefined;
  const env = { ...process.env };
  delete env[THREAD_RANKS];
  delete env[THREAD_PREFIX];

  const done = ranks.map(async (rank, slot) => {
    const pre = prefix ? `[${rank}] ` : '';
    const t = startRankThread({ job, rank, slot, region, entry, argv: workerArgv, env: { ...env, [ENV.rank]: String(rank) }, prefix: pre });
    const code = await t.exited;
    if (code !== 0 && failure === undefined) {
      failure = { rank, code };
      // As a rank process would: the job fails now, with this rank's code (the other threads end with the process).
      process.stderr.write(`fmi run: rank ${rank} exited with code ${code}; stopping the ranks of this process\n`);
      process.exit(code);
    }
  });
  await Promise.all(done);
  return failure?.code ?? 0;
}

function bytesFromEnv(name: string): number | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : Number(v);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`fmi thread host: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}
