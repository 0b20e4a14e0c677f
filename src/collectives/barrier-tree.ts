import { Kind, type Encoded } from '../codec.js';
import { raiseIfError, type CollContext } from './context.js';
import { treeAt0 } from './tree.js';
import { SENT, type Received } from '../channels/channel.js';

const EMPTY: Encoded = { kind: Kind.BUFFER, bytes: new Uint8Array(0) };

/**
 * Tree barrier: a rank hears from its children in a k-nomial tree rooted at
 * rank 0 (tree.ts), tells its parent, then waits for its parent's release
 * and passes it down, largest subtree first. 2(size-1) empty messages in
 * 2·log_k(size) rounds; dissemination sends size·log2(size) in log2(size).
 * Where ranks share a few CPUs, each message costs CPU they all wait for (a
 * write syscall that runs the loopback stack and wakes the reader, a read,
 * an event-loop turn): on 4 ranks (a star: 6 messages in 2 rounds, against
 * 8) the barrier took about half the time (bench/README.md).
 */
export function barrierTree(c: CollContext): Promise<void> {
  const { parent, children } = treeAt0(c.rank, c.size);
  if (children.length > 0 || parent < 0) return barrierInner(c, parent, children);
  // A leaf: its message up, then the answer, which its receive checks as it lands: the call awaits that one promise.
  const sent = c.send(parent, EMPTY);
  return sent === SENT ? c.recvVoid(parent) : sent.then(() => c.recvVoid(parent));
}

/** A rank with children: hears from them all, then as a leaf does, then tells them. */
async function barrierInner(c: CollContext, parent: number, children: readonly number[]): Promise<void> {
  if (children.length === 1) raiseIfError(c, await c.recv(children[0]!));
  else if (children.length > 1) {
    // Indexed loops: no closure or iterator per call for V8 to warm up on.
    const incoming: Promise<Received>[] = [];
    for (let i = 0; i < children.length; i++) incoming.push(c.recv(children[i]!));
    const got = await Promise.all(incoming);
    for (let i = 0; i < got.length; i++) raiseIfError(c, got[i]!);
  }
  if (parent >= 0) {
    const sent = c.send(parent, EMPTY);
    if (sent !== SENT) await sent;
    await c.recvVoid(parent);
  }
  for (let i = children.length - 1; i >= 0; i--) {
    // A send the kernel took at once is not awaited: one turn of the microtask queue fewer per message.
    const sent = c.send(children[i]!, EMPTY);
    if (sent !== SENT) await sent;
  }
}
