import type { Socket } from 'node:net';

/**
 * Node's `onread` for a socket that is open already. With `onread`, the
 * kernel copies incoming bytes into memory the reader chose (a reused buffer,
 * or the receive's own memory) instead of a fresh 64 KiB buffer per read: on
 * these VMs every freshly touched 4 KiB page costs ~11 us, ~3 ms per MiB.
 *
 * Node takes `onread` only where it makes a socket (`net.connect`, `new
 * Socket`); net.Server's accepted sockets cannot have it, and the direct
 * channel's sockets all start with a handshake read through 'data' events.
 * So this sets, on the open socket, what the `onread` option would have set:
 * the socket's kBuffer, kBufferGen and kBufferCb slots, and the handle's
 * useUserBuffer() (Node 20, 22 and 24 alike). These are Node internals:
 * anything missing and this returns false, and the caller keeps reading
 * through 'data' events (slower, same bytes).
 *
 * `next` is asked for the buffer of the next read, once now and again after
 * every `onRead` (as the `onread.buffer` function is); `onRead(n, buf)` gets
 * the bytes read into `buf`. Bytes Node had read already still come as 'data'
 * events, before any read into `next`'s buffers. FMI_DIRECT_ONREAD=0 turns
 * this off (to measure the difference).
 */
export function readInto(socket: Socket, next: () => Uint8Array, onRead: (n: number, buf: Uint8Array) => void): boolean {
  if (process.env.FMI_DIRECT_ONREAD === '0') return false;
  const slot = (name: string) => Object.getOwnPropertySymbols(socket).find((s) => s.description === name);
  const kBuffer = slot('kBuffer');
  const kBufferGen = slot('kBufferGen');
  const kBufferCb = slot('kBufferCb');
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } })._handle;
  if (!kBuffer || !kBufferGen || !kBufferCb || typeof handle?.useUserBuffer !== 'function') return false;
  const s = socket as unknown as Record<symbol, unknown>;
  // Not on a socket that has them set already (its own onread).
  if (s[kBuffer] !== null || s[kBufferGen] !== null || s[kBufferCb] !== null) return false;
  const first = next();
  s[kBuffer] = first;
  s[kBufferGen] = next;
  s[kBufferCb] = onRead;
  handle.useUserBuffer(first);
  return true;
}
