import { FOLD_MAX_BYTES } from '../collectives/node-memory.js';
import { directTraffic, type DirectLink, type P2pTraffic } from './direct.js';
import type { LinkParams } from './params.js';
import type { DirectAllreduce, OpName } from './types.js';

/** The collectives the node arena runs for thread ranks of one process (collectives/two-level.ts); the others take shm's messages. */
export const NODE_OPS: ReadonlySet<OpName> = new Set(['barrier', 'bcast', 'reduce', 'allreduce']);

/**
 * The node arena (collectives/node-*.ts) as the model sees it: a sync of
 * the ranks costs `alpha` (one Atomics wake-up, as a message's), copying b
 * bytes b / (2 beta): a message over shared memory is two copies (into the
 * ring and out), which is what Shm's bandwidth was calibrated on. Every
 * rank copies at once. No message is sent.
 * - barrier: one sync.
 * - bcast: the root's copy in, a sync, every other rank's copy out.
 * - reduce, allreduce: every rank copies its contribution in and syncs;
 *   up to FOLD_MAX_BYTES every rank then folds the n slots itself (n - 1
 *   passes); above it each reduces its 1/n slice of the n - 1 others in
 *   place, a second sync, and every rank copies the result out.
 */
export function nodeTraffic(op: OpName, bytes: number, ranks: number, link: LinkParams): P2pTraffic {
  const n = ranks;
  const copy = (b: number) => b / (2 * link.beta);
  if (n <= 1 && op !== 'barrier') return { time_s: copy(bytes), messages: 0, bytes: 0, algorithm: 'node' };
  switch (op) {
    case 'barrier':
      return { time_s: n <= 1 ? 0 : link.alpha, messages: 0, bytes: 0, algorithm: 'node' };
    case 'bcast':
      return { time_s: link.alpha + 2 * copy(bytes), messages: 0, bytes: 0, algorithm: 'node' };
    default:
      if (bytes <= FOLD_MAX_BYTES) return { time_s: link.alpha + copy(bytes) + (n - 1) * copy(bytes), messages: 0, bytes: 0, algorithm: 'node-fold' };
      return { time_s: 2 * link.alpha + copy(bytes) + ((n - 1) * copy(bytes)) / n + copy(bytes), messages: 0, bytes: 0, algorithm: 'node-slices' };
  }
}

/**
 * Two levels (collectives/two-level.ts): `ranks` thread ranks, `perProcess`
 * in each process; the node arena within each process (its shared-memory
 * link), the direct algorithms among one leader per process between the
 * arena's synchronizations. Only the leaders' messages are messages.
 */
export function twoLevelTraffic(op: OpName, bytes: number, ranks: number, perProcess: number, shm: LinkParams, direct: DirectLink, allreduce?: DirectAllreduce): P2pTraffic {
  const node = nodeTraffic(op, bytes, perProcess, shm);
  const leaders = directTraffic(op, bytes, Math.ceil(ranks / perProcess), direct, allreduce);
  return { time_s: node.time_s + leaders.time_s, messages: leaders.messages, bytes: leaders.bytes, algorithm: `two-level ${leaders.algorithm}` };
}
