import { sendError, type CollContext } from './context.js';
import type { ReduceEngine } from './engine.js';

/**
 * Recursive-doubling allreduce: log2 rounds of pairwise exchange. For a size
 * that is not a power of two, the first 2*rem ranks pair up (the even one
 * hands its value to the odd one) so that a power of two take part, and get
 * the result back at the end. The lower rank's data is always the left
 * operand, so associative non-commutative ops stay exact; every rank computes
 * the same expression tree, so results agree bit for bit.
 *
 * A rank that fails (a size mismatch, say) still owes messages to partners of
 * later rounds: it sends them its error instead, so they fail at once with it
 * rather than wait for their timeout, and pass it on the same way.
 */
export async function allreduceRecursiveDoubling<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  const { rank, size } = c;
  let pof2 = 1;
  while (pof2 * 2 <= size) pof2 *= 2;
  const rem = size - pof2;
  const newRank = rank < 2 * rem ? (rank % 2 === 0 ? -1 : rank >> 1) : rank - rem;
  const toOld = (r: number) => (r < rem ? r * 2 + 1 : r + rem);

  // Every send this rank will make, in order: whoever is still here when it fails gets the error.
  const owed = new Set<number>();
  if (newRank < 0) owed.add(rank + 1);
  else {
    for (let mask = 1; mask < pof2; mask <<= 1) owed.add(toOld(newRank ^ mask));
    if (rank < 2 * rem) owed.add(rank - 1);
  }
  const send = (peer: number, a: A) => {
    owed.delete(peer);
    return e.send(peer, a);
  };

  try {
    let acc = e.local();
    if (newRank < 0) {
      await send(rank + 1, acc);
      e.release(acc);
    } else {
      if (rank < 2 * rem) acc = e.combine(await e.recv(rank - 1), acc);
      for (let mask = 1; mask < pof2; mask <<= 1) {
        const peer = toOld(newRank ^ mask);
        const incoming = e.recv(peer);
        incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
        // The running result may be changed in place only after it has been sent.
        await send(peer, acc);
        const theirs = await incoming;
        acc = peer < rank ? e.combine(theirs, acc) : e.combine(acc, theirs);
      }
    }
    if (rank < 2 * rem) {
      if (rank % 2 === 0) acc = await e.recv(rank + 1);
      else await send(rank - 1, acc);
    }
    return e.result(acc);
  } catch (err) {
    await sendError(c, owed, err);
    throw err;
  }
}
