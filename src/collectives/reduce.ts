import { absRank, relRank, sendError, type CollContext } from './context.js';
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
  // Who waits for this rank: its parent, and the root if the result takes one more hop.
  const owed = new Set<number>();
  if (rel !== 0) owed.add(absRank(rel - (rel & -rel), treeRoot, size));
  else if (root !== treeRoot) owed.add(root);
  const send = (peer: number, a: A) => {
    owed.delete(peer);
    return e.send(peer, a);
  };
  let acc = e.local();
  try {
    for (let mask = 1; mask < size; mask <<= 1) {
      if (rel & mask) {
        await send(absRank(rel - mask, treeRoot, size), acc);
        e.release(acc);
        acc = undefined as A;
        break;
      }
      if (rel + mask < size) acc = e.combine(acc, await e.recv(absRank(rel + mask, treeRoot, size)));
    }
    if (root !== treeRoot) {
      if (c.rank === treeRoot) {
        await send(root, acc);
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
    // The parent (and so, in turn, the root) fails at once instead of waiting.
    await sendError(c, owed, err);
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
  const next = rank < size - 1 ? rank + 1 : root;
  let owes = next !== rank;
  try {
    let acc = e.local();
    if (rank > 0) acc = e.combine(await e.recv(rank - 1), acc);
    if (rank < size - 1) {
      owes = false;
      await e.send(rank + 1, acc);
      e.release(acc);
      return rank === root ? e.result(await e.recv(size - 1)) : undefined;
    }
    if (root === rank) return e.result(acc);
    owes = false;
    await e.send(root, acc);
    e.release(acc);
    return undefined;
  } catch (err) {
    // Everyone after this rank in the chain waits for it: pass the error along.
    if (owes) await sendError(c, [next], err);
    throw err;
  }
}
