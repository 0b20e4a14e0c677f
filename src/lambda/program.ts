import { resolve } from 'node:path';
import { runProgram } from '../mpi/program.js';
import { runRank, type LambdaHandler, type LambdaHandlerOptions } from './handler.js';
import type { LambdaContext, LambdaPayload, RankResult } from './payload.js';
import { checkRanksPerFunction, runFunction, THREAD_RANK, type ThreadRankData } from './thread-ranks.js';

/** lambdaHandler's options: with `ranksPerFunction`, each of the function's ranks runs main in a worker thread of its own. */
export interface LambdaProgramOptions extends LambdaHandlerOptions {
  /** The program's arguments (argv[1...]). @default `event.input.args` if it is an array of strings, else none */
  args?: string[];
  /** Most bytes of stdout, and of stderr, kept in the result (the last lines are kept). @default 1 MiB */
  maxOutputBytes?: number;
}

/** A C/C++ program's run, as `lambdaProgram`'s result carries it. */
export interface ProgramResult {
  /** main's return value, exit()'s status, or the code of a fatal MPI error or MPI_Abort. */
  exitCode: number;
  stdout: string[];
  stderr: string[];
  /** Lines dropped from the start of stdout and stderr to keep within maxOutputBytes. */
  dropped?: { stdout: number; stderr: number };
}

/**
 * `lambdaHandler` for a C/C++ MPI program built with `fmi cc` (`path`: its
 * .js loader, relative to the function's directory; the .wasm beside it).
 * The program's main runs as the invocation's rank; its stdout and stderr
 * lines and its exit status are the result. A status other than 0 makes the
 * result `ok: false` (code FMI_EXIT_STATUS), its output still in `result`.
 *
 * With `ranksPerFunction: k`, an invocation runs k ranks, each in a worker
 * thread that loads the handler's module again and runs main there (as
 * `lambdaHandler` does; the program's globals are per thread, so ranks do
 * not share them); the ranks of one function talk over shared memory.
 */
export function lambdaProgram(path: string, opts: LambdaProgramOptions = {}): LambdaHandler<ProgramResult> {
  const k = checkRanksPerFunction(opts.ranksPerFunction);
  const file = resolve(path);
  const max = opts.maxOutputBytes ?? 1024 * 1024;
  const handler: LambdaHandler<ProgramResult> = (event, context) => (k > 1 ? runFunction<ProgramResult>(event, context, opts, k) : runMain(event, context));
  // One rank of a several-rank function, in its thread (thread-ranks.ts): claimed by the function already.
  Object.defineProperty(handler, THREAD_RANK, { value: (d: ThreadRankData, context: LambdaContext) => runMain(d.event, context, { claimed: true, share: k }) });
  return handler;

  async function runMain(event: unknown, context: LambdaContext, thread?: { claimed: boolean; share: number }): Promise<RankResult<ProgramResult>> {
    let output: ProgramResult | undefined;
    const r = await runRank(event, context, opts, async (comm, payload: LambdaPayload, signal) => {
      const stdout = new Tail(max);
      const stderr = new Tail(max);
      const exitCode = await runProgram(file, opts.args ?? argsOf(payload.input), {
        comm,
        signal,
        argv0: path,
        stdout: (l) => stdout.push(l),
        stderr: (l) => stderr.push(l),
      });
      output = { exitCode, stdout: stdout.lines, stderr: stderr.lines };
      if (stdout.dropped || stderr.dropped) output.dropped = { stdout: stdout.dropped, stderr: stderr.dropped };
      return output;
    }, thread);
    if (r.ok && r.result.exitCode !== 0) {
      const last = r.result.stderr.at(-1);
      return { rank: r.rank, ok: false, error: { code: 'FMI_EXIT_STATUS', message: `the program exited with status ${r.result.exitCode}${last ? `: ${last}` : ''}` }, result: r.result, stats: r.stats };
    }
    return r;
  }
}

function argsOf(input: unknown): string[] {
  const a = (input as { args?: unknown } | null | undefined)?.args;
  return Array.isArray(a) && a.every((x) => typeof x === 'string') ? a : [];
}

/** The last lines of an output, within a byte budget. */
class Tail {
  readonly lines: string[] = [];
  dropped = 0;
  #bytes = 0;
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  push(line: string): void {
    this.lines.push(line);
    this.#bytes += line.length + 1;
    while (this.#bytes > this.#max && this.lines.length > 1) {
      this.#bytes -= this.lines.shift()!.length + 1;
      this.dropped++;
    }
  }
}
