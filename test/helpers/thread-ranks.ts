import { randomUUID } from 'node:crypto';
import { createRegion, type ShmRegion } from '../../src/channels/shm/region.js';
import { startRankThread } from '../../src/cli/rank-threads.js';

/**
 * Runs a fixture script as `n` thread ranks of this process (as `fmi run
 * --threads` would, without the launcher): what they posted to their parent,
 * their exit codes, and the region they shared, for a look at the node
 * memory after.
 */
export async function runThreadRanks(entry: string, n: number, argv: string[] = []): Promise<{ lines: string[]; codes: number[]; region: ShmRegion }> {
  const job = randomUUID();
  const ranks = Array.from({ length: n }, (_, i) => i);
  const region = createRegion(ranks);
  const lines: string[] = [];
  const threads = ranks.map((rank) => {
    const t = startRankThread({
      job, rank, slot: rank, region, entry, argv, prefix: `[${rank}] `,
      env: { ...process.env, FMI_RANK: String(rank), FMI_SIZE: String(n), FMI_JOB: job, FMI_CONFIG: '', FMI_CHANNEL: '' },
    });
    t.worker.on('message', (m: string) => lines.push(m));
    return t;
  });
  const codes = await Promise.all(threads.map((t) => t.exited));
  return { lines, codes, region };
}
