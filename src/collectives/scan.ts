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

/**
 * Scan along a chain from rank 0 up, exact left to right: what non-associative
 * ops need, and on up to CHAIN_MAX_RANKS ranks the cheaper choice for any op
 * (each rank sends once, where recursive doubling sends both ways every
 * round). A rank that fails sends its error up the chain instead, so the
 * ranks above fail at once. Blocks still held on failure go with the
 * engine's dispose().
 */
async function chain<A>(c: CollContext, e: ReduceEngine<A>, inclusive: boolean): Promise<unknown> {
  const { rank, size } = c;
  const last = rank === size - 1;
  let sent = false;
  try {
    const own = e.local();
    const before = rank > 0 ? await e.recv(rank - 1) : undefined;
    if (inclusive) {
      const acc = before === undefined ? own : e.combine(before, own);
      if (!last) {
        sent = true;
        await e.send(rank + 1, acc);
      }
      return e.result(acc);
    }
    if (!last) {
      const upTo = before === undefined ? own : e.combine(e.clone(before), own);
      sent = true;
      await e.send(rank + 1, upTo);
      e.release(upTo);
    } else e.release(own);
    return before === undefined ? undefined : e.result(before);
  } catch (err) {
    if (!last && !sent) await sendError(c, [rank + 1], err);
    throw err;
  }
}

/** Inclusive scan along a chain (see chain()). */
export function scanChain<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  return chain(c, e, true);
}

/** Exclusive scan along a chain (see chain()); rank 0 gets undefined. */
export function exscanChain<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  return chain(c, e, false);
}

/**
 * Up to this many ranks, scans take the chain whatever the op: it sends fewer
 * bytes (one message per rank; doubling sends both ways every round) and
 * measured 2.2-7.7x faster from 8 B to 1 MiB on 2 and 3 ranks
 * (bench/native/reductions.c). Beyond, doubling's log2(n) rounds take over:
 * on this 2-CPU machine the chain still won on 4-8 oversubscribed ranks, a
 * setting that says little about functions with a CPU each.
 */
export const CHAIN_MAX_RANKS = 3;
