import { absRank, relRank } from './context.js';

/**
 * Fan-out of the k-nomial trees of barrier and small allreduce: a rank's
 * children are rel + j·k^l (j = 1..k-1) for every level l below its lowest
 * non-zero base-k digit. With 4, four ranks form one flat star (2 rounds for
 * a barrier instead of the binomial tree's 4), sixteen ranks a tree of depth 2.
 */
export const TREE_RADIX = 4;

/**
 * Barrier and small allreduce take the tree on at most this many ranks (a
 * star, with TREE_RADIX 4): measured faster there than dissemination and
 * recursive doubling. On 16 ranks the tree (radix 2 or 4) was not faster:
 * the root's serial sends and receives, or the depth, cost what the fewer
 * messages saved (bench/README.md).
 */
export const TREE_MAX_RANKS = 4;

export interface Tree {
  /** -1 at the root. */
  parent: number;
  /** In increasing rank order (relative to the root); child i's subtree is the ranks [children[i], next child). */
  children: number[];
}

/** A rank's place in the k-nomial tree of `size` ranks rooted at `root`. Subtrees are contiguous runs of relative ranks. */
export function knomialTree(rank: number, root: number, size: number, radix = TREE_RADIX): Tree {
  const rel = relRank(rank, root, size);
  let span = 1;
  // The lowest level at which rel has a non-zero digit: its parent is there.
  while (span < size && (rel / span) % radix === 0) span *= radix;
  const parent = rel === 0 ? -1 : absRank(rel - ((rel / span) % radix) * span, root, size);
  const children: number[] = [];
  for (let s = 1; s < span; s *= radix) {
    for (let j = 1; j < radix; j++) {
      const child = rel + j * s;
      if (child >= size) break;
      children.push(absRank(child, root, size));
    }
  }
  return { parent, children };
}
