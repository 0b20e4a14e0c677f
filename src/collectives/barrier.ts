import { Kind, type Encoded } from '../codec.js';
import { raiseIfError, type CollContext } from './context.js';

const EMPTY: Encoded = { kind: Kind.BUFFER, bytes: new Uint8Array(0) };

/** Dissemination barrier: ceil(log2 size) rounds of one empty message each way. */
export async function barrierDissemination(c: CollContext): Promise<void> {
  const { rank, size } = c;
  for (let k = 1; k < size; k <<= 1) {
    const incoming = c.recv((rank - k + size) % size);
    incoming.catch(() => {}); // awaited below; a failed send must not leave it unhandled
    await c.send((rank + k) % size, EMPTY);
    raiseIfError(c, await incoming);
  }
}
