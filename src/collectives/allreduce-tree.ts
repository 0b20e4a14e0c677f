import { bytesOf, decode, encode, kindOfTyped } from '../codec.js';
import { elemTypeOf, type NumericArray } from '../kernels/index.js';
import { raiseIfError, sendError, type CollContext } from './context.js';
import type { ReduceEngine } from './engine.js';
import { treeAt0 } from './tree.js';
import { SENT, type Received } from '../channels/channel.js';

/** Allreduce of TypedArrays up to this size (and of any other value) may take the tree (see TREE_MAX_RANKS). */
export const TREE_MAX_BYTES = 16 * 1024;

/**
 * Reduce up a k-nomial tree rooted at rank 0, then the result back down the
 * same tree: 2(size-1) messages, against size·log2(size) for recursive
 * doubling. On 4 ranks that is a star: 6 messages in 2 rounds instead of 8 in
 * 2, and with ranks that share CPUs a message costs what every rank waits for
 * (bench/README.md). A rank folds its own value and then its children's in
 * rank order (each child's subtree is the next run of ranks), so the root
 * computes v0 op v1 op ... in order: exact for any associative op, and every
 * rank gets the root's bits. `into` (the engine's too) receives the result.
 *
 * A rank that fails sends its error to whoever still waits for it (its
 * parent, its children), so the whole tree fails at once with it.
 */
export async function allreduceTree<A>(c: CollContext, e: ReduceEngine<A>, into?: NumericArray): Promise<unknown> {
  const { parent, children } = treeAt0(c.rank, c.size);
  // Whom this rank still owes a message, in the order it sends them from the end: its children, then its parent.
  const owed = children.slice();
  if (parent >= 0) owed.push(parent);
  try {
    // A leaf sends its own value as it is (no copy of it to fold into).
    let acc = children.length > 0 ? e.local() : e.mine();
    if (children.length > 0) {
      // Indexed loops and a shared no-op: no closure, iterator or array method per call for V8 to
      // warm up on (a for-of here deoptimized once on the array's map, bench/README.md "Warm-up").
      const incoming: Promise<A>[] = [];
      for (let i = 0; i < children.length; i++) {
        const p = e.recv(children[i]!);
        p.catch(ignore); // each is awaited below, in rank order
        incoming.push(p);
      }
      for (let i = 0; i < incoming.length; i++) acc = e.combine(acc, await incoming[i]!);
    }
    if (parent < 0) {
      const out = e.result(acc);
      const sending = down(c, children, owed, encode(out));
      if (sending) await sending;
      return out;
    }
    owed.pop(); // the parent
    try {
      const sent = e.send(parent, acc);
      if (sent !== SENT) await sent;
    } finally {
      e.release(acc);
    }
    const target = into && bytesOf(into);
    const r = await (target ? recvInto(c, parent, into!, target) : c.recv(parent));
    raiseIfError(c, r);
    const sending = children.length > 0 ? down(c, children, owed, { kind: r.kind, bytes: r.data }) : undefined;
    if (sending) await sending;
    if (into === undefined) return decode(r.kind, r.data);
    if (r.data.buffer !== target!.buffer || r.data.byteOffset !== target!.byteOffset) (into as { set(x: ArrayLike<unknown>): void }).set(decode(r.kind, r.data) as ArrayLike<unknown>);
    return into;
  } catch (err) {
    await sendError(c, owed, err);
    throw err;
  }
}

const ignore = (): void => {};

/** The result straight into `into` (no fresh buffer, no copy), when it is of its kind and size; apart from allreduceTree, whose every call allocated this closure's scope. */
function recvInto(c: CollContext, parent: number, into: NumericArray, target: Uint8Array): Promise<Received> {
  const kind = kindOfTyped(elemTypeOf(into)!);
  return c.recv(parent, target, target.byteLength, (k, n) => k === kind && n === target.byteLength);
}

/**
 * The result to the children, largest subtree first. Sends the kernel took at
 * once are not awaited; undefined when all were (nothing left to wait for).
 */
function down(c: CollContext, children: readonly number[], owed: number[], msg: { kind: number; bytes: Uint8Array }): Promise<void> | undefined {
  for (let i = children.length - 1; i >= 0; i--) {
    owed.pop(); // children[i]
    const sent = c.send(children[i]!, msg);
    if (sent !== SENT) return i === 0 ? sent : downAfter(sent, c, children.slice(0, i), owed, msg);
  }
  return undefined;
}

/** The rest of down() once `sent` settled; apart from it, whose every call allocated this closure's scope. */
function downAfter(sent: Promise<void>, c: CollContext, children: readonly number[], owed: number[], msg: { kind: number; bytes: Uint8Array }): Promise<void> {
  return sent.then(() => down(c, children, owed, msg));
}
