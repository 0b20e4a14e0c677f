import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { markGone, type ShmRegion } from '../channels/shm/region.js';
import { SHM_WORKER_KEY, type ShmWorkerData } from '../channels/shm/worker-data.js';
import { nodeMemoryFor } from '../collectives/node-memory.js';

/**
 * Worker-thread ranks that share one shared-memory region: what `fmi run
 * --threads` (thread-host.ts) and a Lambda function of several ranks
 * (lambda/thread-ranks.ts) both start. No side effects at import: a Lambda
 * bundle includes this file.
 */
export interface RankThreadSpec {
  job: string;
  rank: number;
  /** The rank's slot in `region` (its index in region.ranks). */
  slot: number;
  region: ShmRegion;
  /** The worker's script: a path or URL, or code with `eval`. */
  entry: string | URL;
  eval?: boolean;
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  /** More workerData beside the shared-memory hand-over. */
  workerData?: Record<string, unknown>;
  /** Put before each line the thread writes to stdout and stderr ("[3] "), or ''. */
  prefix: string;
}

export interface RankThread {
  worker: Worker;
  /** The thread's exit code, once it ended and its output was written out. */
  exited: Promise<number>;
}

/**
 * Starts one rank's thread. Its stdout and stderr lines go to this
 * process's, prefixed; an uncaught exception in it is printed as a rank
 * process would print it (the thread then exits with code 1). When it ends
 * without having closed its channel (process.exit, an exception,
 * terminate()), its slot is marked gone, so its peers in the region fail
 * with FMI_PEER_LOST instead of waiting for it.
 */
export function startRankThread(s: RankThreadSpec): RankThread {
  const shm: ShmWorkerData = { job: s.job, rank: s.rank, region: s.region, node: nodeMemoryFor(s.region) };
  const worker = new Worker(s.entry, {
    eval: s.eval ?? false,
    argv: s.argv ?? [],
    env: s.env ?? process.env,
    workerData: { ...s.workerData, [SHM_WORKER_KEY]: shm },
    stdout: true,
    stderr: true,
  });
  const out = pipeLines(worker.stdout, process.stdout, s.prefix);
  const err = pipeLines(worker.stderr, process.stderr, s.prefix);
  worker.on('error', (e) => {
    process.stderr.write(`${s.prefix}${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  });
  const exited = new Promise<number>((resolve) => {
    worker.on('exit', (code) => {
      markGone(s.region, s.slot);
      void Promise.all([out, err]).then(() => resolve(code));
    });
  });
  return { worker, exited };
}

function pipeLines(from: NodeJS.ReadableStream, to: NodeJS.WritableStream, prefix: string): Promise<void> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: from, crlfDelay: Infinity });
    rl.on('line', (line) => to.write(prefix + line + '\n'));
    rl.on('close', () => resolve());
  });
}
