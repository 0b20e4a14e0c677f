import { sendError, type CollContext } from './context.js';
import type { ReduceEngine } from './engine.js';

/**
 * Scan by recursive doubling: log2 rounds; each rank keeps the combination of
 * the block it has heard of (`partial`) and its prefix (`result`), which
 * starts with its own data (inclusive) or empty (exclusive: rank 0 gets
 * undefined). Lower ranks' data is always the left operand, so associative
 * ops need not commute.
 */
async function scanDoubling<A>(c: CollContext, e: ReduceEngine<A>, inclusive: boolean): Promise<unknown> {
  const { rank, size } = c;
  // Partners of later rounds get this rank's error instead of waiting for it (see allreduce.ts).
  const owed = new Set<number>();
  for (let mask = 1; mask < size; mask <<= 1) if ((rank ^ mask) < size) owed.add(rank ^ mask);
  try {
    let partial = e.local();
    let result: A | undefined = inclusive ? e.clone(partial) : undefined;
    for (let mask = 1; mask < size; mask <<= 1) {
      const peer = rank ^ mask;
      if (peer >= size) continue;
      const incoming = e.recv(peer);
      incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
      owed.delete(peer);
      await e.send(peer, partial);
      const theirs = await incoming;
      if (peer < rank) {
        result = result === undefined ? e.clone(theirs) : e.combine(e.clone(theirs), result);
        partial = e.combine(theirs, partial);
      } else partial = e.combine(partial, theirs);
    }
    e.release(partial);
    return result === undefined ? undefined : e.result(result);
  } catch (err) {
    await sendError(c, owed, err);
    throw err;
  }
}

/** Inclusive scan: rank r gets data(0) op ... op data(r). */
export function scanRecursiveDoubling<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  return scanDoubling(c, e, true);
}

/** Exclusive scan: rank r gets data(0) op ... op data(r - 1); rank 0 undefined. */
export function exscanRecursiveDoubling<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  return scanDoubling(c, e, false);
}

/** Inclusive scan for non-associative ops: a chain from rank 0 up, exact left to right. */
export async function scanChain<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  const { rank, size } = c;
  let acc = e.local();
  if (rank > 0) acc = e.combine(await e.recv(rank - 1), acc);
  if (rank < size - 1) await e.send(rank + 1, acc);
  return e.result(acc);
}

/** Exclusive scan for non-associative ops: a chain from rank 0 up. */
export async function exscanChain<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  const { rank, size } = c;
  const own = e.local();
  const before = rank > 0 ? await e.recv(rank - 1) : undefined;
  if (rank < size - 1) {
    const upTo = before === undefined ? e.clone(own) : e.combine(e.clone(before), e.clone(own));
    await e.send(rank + 1, upTo);
    e.release(upTo);
  }
  e.release(own);
  return before === undefined ? undefined : e.result(before);
}
