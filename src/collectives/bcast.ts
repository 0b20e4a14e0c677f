import { Kind, type Encoded } from '../codec.js';
import { absRank, raiseIfError, relRank, type CollContext } from './context.js';
import { bcastSegments, intoFits, pipelining, SEGMENT_BYTES, SEGMENTED_KIND, segmentedHeader, type BcastInto } from './bcast-pipelined.js';

export { intoFits, type BcastInto } from './bcast-pipelined.js';

/** A rank's place in the binomial tree rooted at `root`: its parent (-1 at the root) and children, largest subtree first. */
export function binomialTree(rank: number, root: number, size: number): { parent: number; children: number[] } {
  const rel = relRank(rank, root, size);
  // The parent is rel minus its lowest set bit; the children are rel + mask for every mask below it.
  let mask = 1;
  while (mask < size && !(rel & mask)) mask <<= 1;
  const parent = rel === 0 ? -1 : absRank(rel - mask, root, size);
  const children: number[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) if (rel + mask < size) children.push(absRank(rel + mask, root, size));
  return { parent, children };
}

export interface BcastOptions {
  /** @default SEGMENT_BYTES */
  segmentBytes?: number;
  /**
   * The caller's result buffer and the kind of payload it takes: a payload of
   * that kind and exactly its size is received straight into it (no fresh
   * memory, no copy); any other gets a buffer of its own.
   */
  into?: BcastInto;
}


/**
 * On at most this many ranks a small broadcast is a star: the root sends to
 * every rank itself, one round instead of two on 4 ranks, with the same
 * number of messages (3). Larger payloads keep the binomial tree, where the
 * root sends fewer copies.
 */
export const STAR_MAX_RANKS = 4;
/** Payloads up to this size (encoded bytes) go out as a star on at most STAR_MAX_RANKS ranks. */
export const STAR_MAX_BYTES = 16 * 1024;

/**
 * Only the root knows the size, so in a binomial broadcast on at most
 * STAR_MAX_RANKS ranks the root first tells the ranks whose binomial parent
 * is not the root (rank 3 of 4) to wait for that parent: an empty message
 * of this kind. Not a codec Kind: never decoded, never seen outside bcast.
 */
export const RELAYED_KIND = Kind.RELAYED;
const RELAYED: Encoded = { kind: RELAYED_KIND, bytes: new Uint8Array(0) };

/** Whether the root's first message goes out as a star: every rank decides alike from the size and that message. */
const asStar = (size: number, first: Encoded) => size <= STAR_MAX_RANKS && first.kind !== SEGMENTED_KIND && first.bytes.byteLength <= STAR_MAX_BYTES;

/**
 * Broadcast from any root. Small payloads on few ranks: a star (see
 * STAR_MAX_RANKS). Otherwise a binomial tree, ceil(log2 size) rounds: small
 * payloads go down the tree whole, forwarded as received, never decoded on
 * the way. From `pipelining.minBytes` on (more than two ranks) the root sends a
 * header and then segments, which every rank forwards as they arrive
 * (bcast-pipelined.ts): the levels of the tree then move data at the same
 * time. Only the root knows the size, so the first message a rank gets says
 * which of these follows. `msg` is needed at the root only; every rank
 * returns the root's message.
 */
export async function bcastBinomial(c: CollContext, root: number, msg: Encoded | undefined, opts: BcastOptions = {}): Promise<Encoded> {
  const segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
  const { parent, children } = binomialTree(c.rank, root, c.size);
  const few = c.size <= STAR_MAX_RANKS;
  let first: Encoded;
  if (parent < 0) {
    const pipelined = msg!.kind !== Kind.ERROR && msg!.bytes.byteLength >= pipelining.minBytes && c.size > 2;
    first = pipelined ? segmentedHeader(msg!, segmentBytes) : msg!;
    if (few) {
      const star = asStar(c.size, first);
      const others: number[] = [];
      for (let r = 0; r < c.size; r++) if (r !== root && (star || binomialTree(r, root, c.size).parent !== root)) others.push(r);
      await Promise.all(others.map((r) => c.send(r, star ? first : RELAYED)));
      if (star) return raiseOrReturn(c, root, first);
    }
  } else {
    // The first message is the payload, a segmented header, an error or RELAYED: only the payload goes to `into`.
    const into = opts.into;
    const recvFirst = (from: number) =>
      into ? c.recv(from, into.bytes, into.bytes.byteLength, (kind, length) => intoFits(into, kind, length)) : c.recv(from);
    let r = await recvFirst(few ? root : parent);
    if (r.kind === RELAYED_KIND) r = await recvFirst(parent);
    first = { kind: r.kind, bytes: r.data };
    if (few && r.source === root && asStar(c.size, first)) return raiseOrReturn(c, root, first);
  }
  if (first.kind === SEGMENTED_KIND) return bcastSegments(c, parent, children, first, msg, opts.into);
  await Promise.all(children.map((child) => c.send(child, first)));
  return raiseOrReturn(c, root, first);
}

function raiseOrReturn(c: CollContext, root: number, first: Encoded): Encoded {
  if (first.kind === Kind.ERROR) raiseIfError(c, { source: root, ctx: 0, tag: 0, kind: first.kind, data: first.bytes });
  return first;
}
