import type { CollContext } from './context.js';
import type { ReduceEngine } from './engine.js';

/**
 * Recursive-doubling allreduce: log2 rounds of pairwise exchange. For a size
 * that is not a power of two, the first 2*rem ranks pair up (the even one
 * hands its value to the odd one) so that a power of two take part, and get
 * the result back at the end. The lower rank's data is always the left
 * operand, so associative non-commutative ops stay exact; every rank computes
 * the same expression tree, so results agree bit for bit.
 */
export async function allreduceRecursiveDoubling<A>(c: CollContext, e: ReduceEngine<A>): Promise<unknown> {
  const { rank, size } = c;
  let pof2 = 1;
  while (pof2 * 2 <= size) pof2 *= 2;
  const rem = size - pof2;
  let acc = e.local();
  let newRank: number;
  if (rank < 2 * rem) {
    if (rank % 2 === 0) {
      await e.send(rank + 1, acc);
      e.release(acc);
      newRank = -1;
    } else {
      acc = e.combine(await e.recv(rank - 1), acc);
      newRank = rank >> 1;
    }
  } else newRank = rank - rem;

  if (newRank >= 0) {
    for (let mask = 1; mask < pof2; mask <<= 1) {
      const newPeer = newRank ^ mask;
      const peer = newPeer < rem ? newPeer * 2 + 1 : newPeer + rem;
      const incoming = e.recv(peer);
      incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
      // The running result may be changed in place only after it has been sent.
      await e.send(peer, acc);
      const theirs = await incoming;
      acc = peer < rank ? e.combine(theirs, acc) : e.combine(acc, theirs);
    }
  }

  if (rank < 2 * rem) {
    if (rank % 2 === 0) acc = await e.recv(rank + 1);
    else await e.send(rank - 1, acc);
  }
  return e.result(acc);
}
