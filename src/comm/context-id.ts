import { decode, encode } from '../codec.js';
import { allgatherRing } from '../collectives/allgather.js';
import type { CollContext } from '../collectives/context.js';
import { FmiError } from '../errors.js';
import { raiseItems } from './assemble.js';

/**
 * Context ids. A new communicator's id is made by one of its members alone
 * (its rank 0) from its world rank and how many ids it made before, so ids
 * made anywhere never coincide: even while one rank takes part in several
 * creations at once (createGroup with different tags, dup of two
 * communicators), which an agreement on the largest free id would not survive.
 */

/** State the communicators of one rank share. */
export interface Shared {
  /** This rank's world rank and the world's size. */
  readonly rank: number;
  readonly size: number;
  /** Context ids this rank has made. */
  made: number;
}

/**
 * A communicator owns CTX_STRIDE context ids from its own: point-to-point
 * messages, collectives (+1), acknowledgements of synchronous sends (+2) and
 * createGroup (+3: collectives take any tag, see Communicator#context).
 */
export const CTX_STRIDE = 4;

/** The largest id the channels carry (u32). */
const CTX_MAX = 0xffffffff;

/**
 * A context id no other rank makes and this one never made before, the first
 * of CTX_STRIDE. The world has 0 to 3.
 */
export function makeContext(shared: Shared): number {
  const ctx = CTX_STRIDE * (shared.made * shared.size + shared.rank + 1);
  if (ctx + CTX_STRIDE - 1 > CTX_MAX) throw new FmiError('MPI_ERR_COMM', `rank ${shared.rank} has made ${shared.made} communicators: no context ids left`, { rank: shared.rank });
  shared.made++;
  return ctx;
}

/**
 * The context id of a new communicator of the ranks of `c` (made at its rank
 * 0), with every rank's `extra`, by rank.
 */
export async function agreeContext<T>(c: CollContext, shared: Shared, extra: T): Promise<{ ctx: number; all: T[] }> {
  let mine = -1;
  let failure: unknown;
  if (c.rank === 0) {
    try {
      mine = makeContext(shared);
    } catch (err) {
      failure = err; // the others still get this rank's item, and fail below
    }
  }
  const items = await allgatherRing(c, encode([mine, extra]));
  if (failure) throw failure;
  raiseItems(items, c);
  const got = items.map((it) => decode(it.kind, it.bytes) as [number, T]);
  if (got[0]![0] < 0) throw new FmiError('MPI_ERR_COMM', 'rank 0 could not make a context id', c.fields(0));
  return { ctx: got[0]![0], all: got.map(([, x]) => x) };
}
