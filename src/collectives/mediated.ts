import { encodeError, Kind, type Encoded } from '../codec.js';
import { FmiError } from '../errors.js';
import { asEncoded, raiseIfError, type CollContext } from './context.js';
import type { ReduceEngine } from './engine.js';
import type { Item } from './bundle.js';

/**
 * Collectives for storage channels (Redis, S3), where one write can be read
 * by many and every round trip is expensive: a broadcast is one write and
 * size - 1 reads instead of a tree of log2(size) store-and-forward hops.
 */
type StoreContext = CollContext & Required<Pick<CollContext, 'store'>>;

export function hasStore(c: CollContext): c is StoreContext {
  return c.store !== undefined;
}

/** Root writes once; everyone else reads that one value. */
export async function bcastStore(c: StoreContext, root: number, msg: Encoded | undefined): Promise<Encoded> {
  let out: Encoded;
  if (c.rank === root) {
    out = msg!;
    if (c.size > 1) await c.store.put(out, c.size - 1);
  } else out = await c.store.get(root);
  if (out.kind === Kind.ERROR) raiseIfError(c, { source: root, ctx: 0, tag: 0, kind: out.kind, data: out.bytes });
  return out;
}

/**
 * Runs `work`, which ends with `root` writing the value the others read: if
 * it fails at the root, the root writes its error instead, so the readers
 * fail with it rather than wait for their timeout.
 */
export async function writeOrFail<T>(c: StoreContext, root: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (c.rank === root && c.size > 1) {
      const e = err instanceof FmiError ? err : new FmiError('FMI_CHANNEL', String(err), c.fields());
      await c.store.put(encodeError(e), c.size - 1).catch(() => {});
    }
    throw err;
  }
}

/** Every rank tells rank 0 it arrived; rank 0 writes one release everybody reads. */
export async function barrierStore(c: StoreContext): Promise<void> {
  const empty: Encoded = { kind: Kind.BUFFER, bytes: new Uint8Array(0) };
  await writeOrFail(c, 0, async () => {
    if (c.rank === 0) for (const r of await Promise.all(range(1, c.size).map((r) => c.recv(r)))) raiseIfError(c, r);
    else await c.send(0, empty);
    await bcastStore(c, 0, empty);
  });
}

/**
 * Gather at the root: every part is read as soon as it arrives (all reads are
 * posted at once). Returns the items by rank at the root, undefined elsewhere.
 */
export async function gatherFlat(c: CollContext, root: number, mine: Encoded): Promise<Item[] | undefined> {
  if (c.rank !== root) {
    await c.send(root, mine);
    return undefined;
  }
  const parts = await Promise.all(
    range(0, c.size).map(async (r): Promise<Item> => (r === root ? { rank: r, ...mine } : { rank: r, ...asEncoded(await c.recv(r)) })),
  );
  return parts;
}

/**
 * Reduce at the root with every part read as soon as it arrives, but folded
 * strictly in rank order (0 op 1 op 2 ...), so any op, commutative or not,
 * gives the same result every time.
 */
export async function reduceFlat<A>(c: CollContext, e: ReduceEngine<A>, root: number): Promise<unknown> {
  if (c.rank !== root) {
    const mine = e.local();
    try {
      await e.send(root, mine);
    } finally {
      e.release(mine);
    }
    return undefined;
  }
  const parts: Promise<A>[] = range(0, c.size).map((r) => (r === root ? Promise.resolve(e.local()) : e.recv(r)));
  for (const p of parts) p.catch(() => {}); // each is awaited below, in order
  let acc = (await parts[0]!) as A;
  for (let r = 1; r < c.size; r++) acc = e.combine(acc, (await parts[r]!) as A);
  return e.result(acc);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}
