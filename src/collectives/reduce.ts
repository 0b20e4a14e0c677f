import { absRank, relRank, type CollContext } from './context.js';
import type { ReduceEngine } from './engine.js';

/**
 * Binomial-tree reduce. With `treeRoot` 0 the tree combines in rank order
 * (each rank's running result covers ranks [rank, rank + mask) and is always
 * the left operand), which keeps non-commutative associative ops exact; the
 * result then moves to `root`. Commutative ops use `treeRoot = root` and skip
 * that hop. Returns the result at `root`, undefined elsewhere.
 */
export async function reduceBinomial<A>(c: CollContext, e: ReduceEngine<A>, root: number, treeRoot: number): Promise<unknown> {
  const { size } = c;
  const rel = relRank(c.rank, treeRoot, size);
  let acc = e.local();
  try {
    for (let mask = 1; mask < size; mask <<= 1) {
      if (rel & mask) {
        await e.send(absRank(rel - mask, treeRoot, size), acc);
        e.release(acc);
        acc = undefined as A;
        break;
      }
      if (rel + mask < size) acc = e.combine(acc, await e.recv(absRank(rel + mask, treeRoot, size)));
    }
    if (root !== treeRoot) {
      if (c.rank === treeRoot) {
        await e.send(root, acc);
        e.release(acc);
        return undefined;
      }
      if (c.rank === root) return e.result(await e.recv(treeRoot));
      return undefined;
    }
    if (c.rank !== root) return undefined;
    const out = e.result(acc);
    acc = undefined as A;
    return out;
  } catch (err) {
    if (acc !== undefined) e.release(acc);
    throw err;
  }
}

/**
 * Strict left-to-right reduce for ops that are not associative: rank 0's
 * value goes to rank 1, which computes v0 op v1 and passes it on, and so on;
 * the last rank sends the result to `root`. Linear, and exact.
 */
export async function reduceChain<A>(c: CollContext, e: ReduceEngine<A>, root: number): Promise<unknown> {
  const { rank, size } = c;
  let acc = e.local();
  if (rank > 0) acc = e.combine(await e.recv(rank - 1), acc);
  if (rank < size - 1) {
    await e.send(rank + 1, acc);
    e.release(acc);
    return rank === root ? e.result(await e.recv(size - 1)) : undefined;
  }
  if (root === rank) return e.result(acc);
  await e.send(root, acc);
  e.release(acc);
  return undefined;
}
