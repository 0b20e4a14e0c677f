import { Kind, type Encoded } from '../codec.js';
import { absRank, asEncoded, raiseIfError, relRank, type CollContext } from './context.js';

/**
 * Binomial-tree broadcast from any root: ceil(log2 size) rounds. The payload
 * is forwarded as received, never decoded on the way. `msg` is needed at the
 * root only; every rank returns the root's message.
 */
export async function bcastBinomial(c: CollContext, root: number, msg: Encoded | undefined): Promise<Encoded> {
  const { size } = c;
  const rel = relRank(c.rank, root, size);
  let mask = 1;
  while (mask < size) {
    if (rel & mask) {
      const r = await c.recv(absRank(rel - mask, root, size));
      msg = asEncoded(r);
      break;
    }
    mask <<= 1;
  }
  const out = msg!;
  const sends: Promise<void>[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (rel + mask < size) sends.push(c.send(absRank(rel + mask, root, size), out));
  }
  await Promise.all(sends);
  if (out.kind === Kind.ERROR) raiseIfError(c, { source: root, ctx: 0, tag: 0, kind: out.kind, data: out.bytes });
  return out;
}
