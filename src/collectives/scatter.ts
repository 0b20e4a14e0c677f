import { Kind, type Encoded } from '../codec.js';
import { packBundle, unpackBundle, type Item } from './bundle.js';
import { absRank, raiseIfError, relRank, type CollContext } from './context.js';

/**
 * Binomial-tree scatter from any root. The root sends each child the items of
 * that child's subtree as one bundle; each rank keeps its own and passes the
 * rest on. `items[r]` (root only) is rank r's item; an ERROR message in their
 * place fails every rank with the root's error.
 */
export async function scatterBinomial(c: CollContext, root: number, items: Encoded[] | Encoded | undefined): Promise<Encoded> {
  const { size } = c;
  const rel = relRank(c.rank, root, size);
  // byRel[i]: the item for relative rank rel + i, for this rank's whole subtree.
  let byRel: Item[];
  let error: Encoded | undefined;
  let mask = 1;
  if (rel === 0) {
    if (Array.isArray(items)) byRel = Array.from({ length: size }, (_, i) => ({ rank: absRank(i, root, size), ...items[absRank(i, root, size)]! }));
    else {
      error = items!;
      byRel = [];
    }
    while (mask < size) mask <<= 1;
  } else {
    while (!(rel & mask)) mask <<= 1;
    const r = await c.recv(absRank(rel - mask, root, size));
    if (r.kind === Kind.ERROR) {
      error = { kind: r.kind, bytes: r.data };
      byRel = [];
    } else byRel = unpackBundle(r.data);
  }
  const sends: Promise<void>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (rel + mask >= size) continue;
    const child = absRank(rel + mask, root, size);
    const payload = error ?? { kind: Kind.BUNDLE, bytes: packBundle(byRel.slice(mask, Math.min(2 * mask, size - rel))) };
    sends.push(c.send(child, payload));
  }
  await Promise.all(sends);
  if (error) raiseIfError(c, { source: root, ctx: 0, tag: 0, kind: error.kind, data: error.bytes });
  return byRel[0]!;
}
