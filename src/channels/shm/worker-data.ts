import { isMainThread, workerData } from 'node:worker_threads';
import { isRegion, type ShmRegion } from './region.js';

/** The key under which `fmi run --threads` puts a rank's ShmWorkerData in its workerData. */
export const SHM_WORKER_KEY = 'fmiShm';

/** What a worker-thread rank is handed by its host: its job, its rank, the shared memory of its process. */
export interface ShmWorkerData {
  job: string;
  rank: number;
  region: ShmRegion;
  /** The node arena of the process's ranks (collectives/node-memory.ts), if the host made one. */
  node?: WebAssembly.Memory;
}

/**
 * This thread's hand-over from `fmi run --threads`, if it is such a worker and
 * the hand-over fits the job being joined (init() with another job or rank
 * joins that one without shared memory).
 */
export function shmFromWorker(job: string, rank: number): ShmRegion | undefined {
  return handOver(job, rank)?.region;
}

/** The node arena memory that came with this thread's region (see shmFromWorker). */
export function nodeFromWorker(job: string, rank: number): WebAssembly.Memory | undefined {
  const node = handOver(job, rank)?.node;
  return node instanceof WebAssembly.Memory ? node : undefined;
}

function handOver(job: string, rank: number): ShmWorkerData | undefined {
  if (isMainThread) return undefined;
  const d = (workerData as Record<string, unknown> | null | undefined)?.[SHM_WORKER_KEY] as ShmWorkerData | undefined;
  return d && d.job === job && d.rank === rank && isRegion(d.region) ? d : undefined;
}
