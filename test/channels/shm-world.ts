import { randomUUID } from 'node:crypto';
import { ShmChannel, createRegion, type ShmRegion } from '../../src/channels/shm/index.js';

// Shared by the shm large-message tests: a job of thread-less shm channels in
// one region, and a byte pattern to check what arrived.
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const env = (tag: number) => ({ ctx: 0, tag, kind: 0 });
export const pattern = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 255);
/** The first byte off the pattern, -1 when all match, -2 for a wrong length. */
export const firstBad = (got: Uint8Array, n: number, seed: number) => (got.byteLength !== n ? -2 : got.findIndex((x, i) => x !== ((i * 31 + seed) & 255)));

/** `node`: a node memory for the staging areas (bulk.ts), as thread ranks have. */
export async function world(size: number, bulkBytes?: number, node?: WebAssembly.Memory): Promise<{ chans: ShmChannel[]; region: ShmRegion; close(): Promise<void> }> {
  const region = createRegion(Array.from({ length: size }, (_, i) => i), 64 * KiB, bulkBytes);
  const job = randomUUID();
  const chans = await Promise.all(Array.from({ length: size }, (_, rank) => ShmChannel.create({ job, rank, size, region, node })));
  return { chans, region, close: () => Promise.all(chans.map((c) => c.close())).then(() => undefined) };
}
