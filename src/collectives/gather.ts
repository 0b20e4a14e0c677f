import { Kind, type Encoded } from '../codec.js';
import { packBundle, unpackBundle, type Item } from './bundle.js';
import { absRank, relRank, type CollContext } from './context.js';

/**
 * Binomial-tree gather to any root. Each rank forwards the items of its
 * subtree as one bundle to its parent; payloads are never decoded on the way.
 * Returns every rank's item at the root (ordered by rank), undefined elsewhere.
 * An ERROR item from any rank is carried up like data; the caller raises it.
 */
export async function gatherBinomial(c: CollContext, root: number, mine: Encoded): Promise<Item[] | undefined> {
  const { size } = c;
  const rel = relRank(c.rank, root, size);
  // Children are rel + mask for every mask below rel's lowest set bit.
  const children: number[] = [];
  let mask = 1;
  while (mask < size && !(rel & mask)) {
    if (rel + mask < size) children.push(absRank(rel + mask, root, size));
    mask <<= 1;
  }
  const received = await Promise.all(children.map((p) => c.recv(p)));
  const items: Item[] = [{ rank: c.rank, kind: mine.kind, bytes: mine.bytes }];
  for (const r of received) {
    if (r.kind === Kind.ERROR) items.push({ rank: r.source, kind: r.kind, bytes: r.data });
    else items.push(...unpackBundle(r.data));
  }
  if (rel === 0) return items.sort((a, b) => a.rank - b.rank);
  await c.send(absRank(rel - mask, root, size), { kind: Kind.BUNDLE, bytes: packBundle(items) });
  return undefined;
}
