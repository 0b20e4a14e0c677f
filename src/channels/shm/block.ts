import type { ShmRegion } from './region.js';

/**
 * How long a thread rank's waits (the shm channel's, the node arena's) block
 * its thread in Atomics.wait before they leave the wait to the event loop,
 * where every rank of the job is a thread of this process: past the
 * kernel's tick (4 ms here), so a wait's timer expires after the tick and
 * the kernel need not reprogram its clock for it (ShmChannelOptions.blockUs).
 */
export const DEFAULT_BLOCK_US = 5000;

/**
 * Whether every rank of a job of `size` ranks is a thread of the process
 * that shares `region`: then nothing but shared memory brings a rank what it
 * waits for, and its waits may block its thread (no sockets need its event loop).
 */
export function allThreads(region: ShmRegion, size: number): boolean {
  return region.ranks.length === size;
}

/** A thread rank's bound on blocking waits, by default: DEFAULT_BLOCK_US in a job of threads only, else 0 (never block). */
export function defaultBlockUs(region: ShmRegion, size: number): number {
  return allThreads(region, size) ? DEFAULT_BLOCK_US : 0;
}
