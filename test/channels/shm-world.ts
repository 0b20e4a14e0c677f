import { randomUUID } from 'node:crypto';
import { ShmChannel, createRegion, type ShmRegion } from '../../src/channels/shm/index.js';
import { ownBy } from '../../src/channels/shm/node-copy.js';

// Shared by the shm large-message tests: a job of thread-less shm channels in
// one region, and a byte pattern to check what arrived.
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const env = (tag: number) => ({ ctx: 0, tag, kind: 0 });
export const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 255);
/** The first byte off the pattern, -1 when all match, -2 for a wrong length. */
export const firstBad = (got: Uint8Array, n: number, seed: number) => (got.byteLength !== n ? -2 : got.findIndex((x, i) => x !== ((i * 31 + seed) & 255)));

/** `node`: a node memory for the staging areas (bulk.ts), as thread ranks have. */
/** `lend`: the channels lend shared payloads (ShmChannelOptions.lend). */
export async function world(size: number, bulkBytes?: number, node?: WebAssembly.Memory, lend = false): Promise<{ chans: ShmChannel[]; region: ShmRegion; close(): Promise<void> }> {
  const region = createRegion(Array.from({ length: size }, (_, i) => i), 64 * KiB, bulkBytes);
  const job = randomUUID();
  const chans = await Promise.all(Array.from({ length: size }, (_, rank) => ShmChannel.create({ job, rank, size, region, node, lend })));
  return { chans, region, close: () => Promise.all(chans.map((c) => c.close())).then(() => undefined) };
}

const PAGE = 65536;

/** A node memory, and arrays in it as sharedArray() makes them (whole pages, registered); `seed` fills one with pattern(n, seed). */
export function nodeMemory() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const array = (n: number, seed?: number) => {
    const at = memory.grow(Math.ceil(n / PAGE)) * PAGE;
    const v = new Uint8Array(memory.buffer, at, n);
    ownBy(v.buffer, memory);
    if (seed !== undefined) v.set(pattern(n, seed));
    return v;
  };
  return { memory, array };
}
