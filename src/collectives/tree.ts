import { absRank, relRank } from './context.js';

/**
 * Fan-out of the k-nomial trees of barrier and small allreduce: a rank's
 * children are rel + j·k^l (j = 1..k-1) for every level l below its lowest
 * non-zero base-k digit. With 4, four ranks form one flat star (2 rounds for
 * a barrier instead of the binomial tree's 4), sixteen ranks a tree of depth 2.
 * Used above TREE_STAR_MAX_RANKS ranks.
 */
export const TREE_RADIX = 4;

/**
 * Up to this many ranks the tree of barrier and small allreduce is one flat
 * star around rank 0 (the radix is the size): every rank sends to rank 0 and
 * waits for its answer, 2 levels instead of 2·log4(size). Where ranks
 * outnumber CPUs, each level is a chain of wake-ups, and rank 0 takes many
 * arrivals in one wake-up: on 8, 16 and 32 ranks on 2 vCPUs the star's p50
 * was 11-35% below the radix-4 tree's, with no more CPU per call
 * (bench/README.md, "What the wall time of a 1 KiB allreduce on 4 ranks is
 * made of"). Above, rank 0's serial sends and receives (one per rank) would
 * outweigh the levels saved.
 */
export const TREE_STAR_MAX_RANKS = 32;

/**
 * Barrier and small allreduce take the tree on at most this many ranks:
 * every size. With radix 4 its rounds are those of dissemination and
 * recursive doubling (2·log4(p) = log2(p)) while it sends 2(p - 1) messages
 * instead of p·log2(p): 30 against 64 on 16 ranks, 62 against 160 on 32.
 * Where ranks outnumber CPUs, a call's time is the CPU of its messages
 * summed over the ranks (each one a write that runs the loopback stack and
 * wakes a process, a read, a turn of an event loop): on 16 and 32 ranks on
 * 2 CPUs the tree cost about half the CPU per call (bench/README.md). Set
 * it to 4 for the former choice (dissemination and recursive doubling
 * above 4 ranks).
 */
export const TREE_MAX_RANKS = Number.POSITIVE_INFINITY;

export interface Tree {
  /** -1 at the root. */
  parent: number;
  /** In increasing rank order (relative to the root); child i's subtree is the ranks [children[i], next child). */
  children: number[];
}

/**
 * A rank's place in the k-nomial tree of `size` ranks rooted at `root`. Subtrees are contiguous runs of relative ranks.
 * The default radix is that of barrier and small allreduce: a star up to TREE_STAR_MAX_RANKS ranks, else TREE_RADIX.
 */
export function knomialTree(rank: number, root: number, size: number, radix = size <= TREE_STAR_MAX_RANKS ? Math.max(2, size) : TREE_RADIX): Tree {
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

/** Trees made for treeAt0, by size and rank: a job has a handful. */
const made = new Map<number, Readonly<Tree>>();
const MADE_MAX = 64;

/**
 * knomialTree(rank, 0, size) with the default radix, made once per (rank,
 * size) and shared: the tree of every barrier and small allreduce, which
 * run in loops. Read it, never change it.
 */
export function treeAt0(rank: number, size: number): Readonly<Tree> {
  const key = size * 0x20_0000 + rank;
  let t = made.get(key);
  if (t === undefined) {
    if (made.size >= MADE_MAX) made.clear();
    made.set(key, (t = knomialTree(rank, 0, size)));
  }
  return t;
}
