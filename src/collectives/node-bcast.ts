import { copyBytes, copyOf } from '../channels/shm/copy-bytes.js';
import { decodeError, Kind, type Encoded } from '../codec.js';
import { barrierDissemination } from './barrier.js';
import { barrierTree } from './barrier-tree.js';
import { bcastBinomial, intoFits, type BcastInto } from './bcast.js';
import type { CollContext } from './context.js';
import type { NodeArena } from './node-arena.js';
import { barrierTakesTree } from './barrier-choice.js';
import { checkHeaders, layoutOf, type NodeCall } from './two-level.js';

// Header words of a bcast: 0 signature, 1 bytes, 2 kind, 3 whether they are in the slot.
const BYTES = 1;
const KIND = 2;
const WRITTEN = 3;

/**
 * Bcast among thread ranks through the node arena: the root copies its
 * message into its slot, one sync, every other rank copies it out (into
 * `into` when it fits). Between processes (two levels): in the root's
 * process the leader passes the slot on to the other leaders (binomial
 * tree, direct channel) while its ranks copy; in the others, the leader
 * puts what it received in its slot, then releases its ranks.
 */
export async function nodeBcast(c: CollContext, nc: NodeCall, root: number, msg: Encoded | undefined, into: BcastInto | undefined): Promise<Encoded> {
  const a = nc.arena;
  const fields = nc.fields();
  const layout = await layoutOf(c, nc);
  const set = a.begin(fields);
  const mine = a.header(set);
  mine[0] = nc.tag | 0;
  mine[BYTES] = -1;
  const rootSlot = a.ranks.indexOf(root);
  let from = rootSlot;
  if (rootSlot >= 0) {
    if (nc.rank === root) {
      mine[BYTES] = msg!.bytes.byteLength;
      mine[KIND] = msg!.kind;
      mine[WRITTEN] = msg!.bytes.byteLength <= a.cap ? 1 : 0;
      if (mine[WRITTEN]) put(a, a.offset(set, a.slot), msg!.bytes);
    }
    await a.sync(nc.signal, fields);
    checkHeaders(nc, set);
    const h = a.header(set, rootSlot);
    if (h[WRITTEN] === 0) {
      await a.grow(h[BYTES]!, nc.signal, fields);
      if (nc.rank === root) put(a, a.offset(set, a.slot), msg!.bytes);
      await a.sync(nc.signal, fields);
    }
    // The other processes get it from this one's leader, while the ranks here copy it.
    if (layout && a.leader) {
      const lc = nc.sub(layout.leaders);
      const bytes = copyOf(a.bytes(a.offset(set, rootSlot), h[BYTES]!));
      await bcastBinomial(lc, lc.rank, { kind: h[KIND]!, bytes });
    }
  } else {
    // Another process holds the root: this one's leader receives and hands over.
    await a.syncVia(async () => {
      const lc = nc.sub(layout!.leaders);
      const got = await bcastBinomial(lc, layout!.processOf[root]!, undefined);
      a.growNow(got.bytes.byteLength, fields);
      copyBytes(a.bytes(a.offset(set, 0), got.bytes.byteLength), 0, got.bytes);
      mine[BYTES] = got.bytes.byteLength;
      mine[KIND] = got.kind;
    }, nc.signal, fields);
    checkHeaders(nc, set);
    from = 0;
  }
  const h = a.header(set, from);
  const kind = h[KIND]!;
  const bytes = a.bytes(a.offset(set, from), h[BYTES]!);
  if (kind === Kind.ERROR) throw decodeError(bytes.slice(), fields);
  if (nc.rank === root) return msg!;
  if (into && intoFits(into, kind, bytes.byteLength)) {
    const to = a.addressOf(into.bytes);
    if (to >= 0) a.copy(to, bytes.byteOffset, bytes.byteLength);
    else copyBytes(into.bytes, 0, bytes);
    return { kind, bytes: into.bytes };
  }
  return { kind, bytes: copyOf(bytes) };
}

/** Copies `bytes` to `to` in the arena: Wasm memory.copy when they lie in it (sharedArray()), else a JS copy. */
function put(a: NodeArena, to: number, bytes: Uint8Array): void {
  const from = a.addressOf(bytes);
  if (from >= 0) a.copy(to, from, bytes.byteLength);
  else copyBytes(a.bytes(to, bytes.byteLength), 0, bytes);
}

/** Barrier among thread ranks: one sync; between processes, the leaders' barrier (direct channel) before the release. */
export async function nodeBarrier(c: CollContext, nc: NodeCall): Promise<void> {
  const a = nc.arena;
  const fields = nc.fields();
  const layout = await layoutOf(c, nc);
  const set = a.begin(fields);
  a.header(set)[0] = nc.tag | 0;
  if (layout === undefined) await a.sync(nc.signal, fields);
  else {
    await a.syncVia(async () => {
      const lc = nc.sub(layout.leaders);
      await (barrierTakesTree(lc.size) ? barrierTree(lc) : barrierDissemination(lc));
    }, nc.signal, fields);
  }
  checkHeaders(nc, set);
}
