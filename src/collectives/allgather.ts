import { Kind, type Encoded } from '../codec.js';
import { raiseIfError, type CollContext } from './context.js';

/**
 * Ring allgather: size - 1 steps; in each, a rank passes the item it got last
 * to its right neighbour and takes a new one from its left. Every item crosses
 * every link once, so large items move at link bandwidth. Payloads are never
 * decoded on the way. Returns every rank's item, by rank.
 */
export async function allgatherRing(c: CollContext, mine: Encoded): Promise<Encoded[]> {
  const { rank, size } = c;
  const items: Encoded[] = new Array(size);
  items[rank] = mine;
  const right = (rank + 1) % size;
  const left = (rank - 1 + size) % size;
  let error: Encoded | undefined = mine.kind === Kind.ERROR ? mine : undefined;
  for (let s = 0; s < size - 1; s++) {
    const incoming = c.recv(left);
    incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
    await c.send(right, items[(rank - s + size) % size]!);
    const r = await incoming;
    const got = { kind: r.kind, bytes: r.data };
    if (got.kind === Kind.ERROR) error ??= got;
    items[(rank - s - 1 + size) % size] = got;
  }
  if (error) return [error];
  return items;
}

/**
 * Alltoall by direct exchange: every rank posts its size - 1 receives and
 * sends at once, in a rotated order so that no rank is everyone's first
 * target. Returns what each rank sent to this one, by rank.
 */
export async function alltoallPairwise(c: CollContext, items: Encoded[]): Promise<Encoded[]> {
  const { rank, size } = c;
  const out: Encoded[] = new Array(size);
  out[rank] = items[rank]!;
  const recvs: Promise<void>[] = [];
  const sends: Promise<void>[] = [];
  for (let i = 1; i < size; i++) {
    const src = (rank - i + size) % size;
    recvs.push(c.recv(src).then((r) => void (raiseIfError(c, r), (out[src] = { kind: r.kind, bytes: r.data }))));
  }
  for (let i = 1; i < size; i++) sends.push(c.send((rank + i) % size, items[(rank + i) % size]!));
  await Promise.all([...sends, ...recvs]);
  return out;
}
