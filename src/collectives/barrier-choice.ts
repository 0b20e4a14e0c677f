import { TREE_MAX_RANKS } from './tree.js';

/**
 * Up to this many ranks the barrier runs dissemination (barrier.ts), not the
 * tree: on 2 ranks one simultaneous exchange of an empty message, one
 * message time, where the star's leaf sends and then waits for the root's
 * answer, two in a row (bench/README.md, "Pairwise exchange on 2 ranks").
 */
export const BARRIER_PAIRWISE_MAX_RANKS = 2;

/** Whether a barrier on `size` ranks runs the k-nomial tree (barrier-tree.ts) rather than dissemination (barrier.ts). The communicator and the cost model both ask this. */
export function barrierTakesTree(size: number): boolean {
  return size > BARRIER_PAIRWISE_MAX_RANKS && size <= TREE_MAX_RANKS;
}
