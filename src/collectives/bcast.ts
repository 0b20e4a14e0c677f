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
 * Binomial-tree broadcast from any root: ceil(log2 size) rounds. Small
 * payloads go down the tree whole, forwarded as received, never decoded on
 * the way. From `pipelining.minBytes` on (more than two ranks) the root sends a
 * header and then segments, which every rank forwards as they arrive
 * (bcast-pipelined.ts): the levels of the tree then move data at the same
 * time. Only the root knows the size, so the first message a rank gets says
 * which of the two follows. `msg` is needed at the root only; every rank
 * returns the root's message.
 */
export async function bcastBinomial(c: CollContext, root: number, msg: Encoded | undefined, opts: BcastOptions = {}): Promise<Encoded> {
  const segmentBytes = opts.segmentBytes ?? SEGMENT_BYTES;
  const { parent, children } = binomialTree(c.rank, root, c.size);
  let first: Encoded;
  if (parent < 0) {
    const pipelined = msg!.kind !== Kind.ERROR && msg!.bytes.byteLength >= pipelining.minBytes && c.size > 2;
    first = pipelined ? segmentedHeader(msg!, segmentBytes) : msg!;
  } else {
    // The first message is the payload, a segmented header or an error: only the payload goes to `into`.
    const into = opts.into;
    const r = into ? await c.recv(parent, into.bytes, into.bytes.byteLength, (kind, length) => intoFits(into, kind, length)) : await c.recv(parent);
    first = { kind: r.kind, bytes: r.data };
  }
  if (first.kind === SEGMENTED_KIND) return bcastSegments(c, parent, children, first, msg, opts.into);
  await Promise.all(children.map((child) => c.send(child, first)));
  if (first.kind === Kind.ERROR) raiseIfError(c, { source: root, ctx: 0, tag: 0, kind: first.kind, data: first.bytes });
  return first;
}
