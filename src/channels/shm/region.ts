import { FmiError } from '../../errors.js';

/**
 * The shared memory of the ranks of one process: made once by whoever starts
 * them (the `fmi run --threads` launcher, a test) and handed to every worker
 * thread in its workerData. A plain object, so it survives structured clone;
 * the SharedArrayBuffer in it is shared, not copied.
 *
 * Layout: one control block of 64 bytes per local rank (its doorbell and its
 * closed flag, a cache line each so ranks do not false-share), then one
 * single-producer single-consumer ring per ordered pair of local ranks.
 */
export interface ShmRegion {
  readonly sab: SharedArrayBuffer;
  /** The job ranks in this process; a rank's index here is its slot. */
  readonly ranks: readonly number[];
  /** Payload bytes of each ring (a power of two). */
  readonly ringBytes: number;
  /**
   * The staging areas of large messages (bulk.ts), one growable
   * SharedArrayBuffer per ordered pair (from * n + to; null on the diagonal):
   * address space reserved up to their maxByteLength, memory committed as
   * they grow; their maxByteLength bounds a pair's area wherever it is
   * (with a node memory, its pages serve first). Absent or empty: every
   * message goes through the rings.
   */
  readonly bulk?: readonly (SharedArrayBuffer | null)[];
}

/** Int32 words per control block and per ring header. */
export const CTRL_WORDS = 16;
export const BELL = 0;
export const CLOSED = 1;
/** Set by the one channel that attached to a slot (to its thread's id + 1): a second init() of that rank is refused. */
export const ATTACHED = 2;
/** How many waits of the slot's rank on its bell are under way (Atomics.wait, a pending waitAsync): a bell rung while none is needs no notify. */
export const SLEEPING = 3;
/** Ring header: the writer's position, and a line away the reader's (no false sharing). */
export const RING_HEADER_BYTES = 128;
export const HEAD = 0;
export const TAIL = 16;
/** Set by a writer that waits for room; the reader notifies TAIL only then. */
export const WRITER_WAITING = 17;
/** The staging area's words (bulk.ts): the writer's position and its copying flag on the writer's line, the reader's position and the writer's wait flag on the reader's. */
export const BULK_HEAD = 1;
export const BULK_WRITING = 2;
export const BULK_TAIL = 18;
export const BULK_WAITING = 19;
/** Lent payloads (in-place.ts): the reader sets a message's bit here once it has copied it out of the writer's array. */
export const LENT_ACKS = 20;
/** A lent copy's first half offered to the writer (in-place.ts): its state (OFFERED, TAKEN, KEPT, DONE), then where from, where to and how long. */
export const LENT_OFFER = 21;
export const LENT_OFFER_SRC = 22;
export const LENT_OFFER_DST = 23;
export const LENT_OFFER_LEN = 24;

const MIN_RING = 64 * 1024;
const MAX_RING = 1 << 30;

/**
 * Ring size for `n` ranks in one process: 1 MiB each up to 8 ranks, then less
 * so the n² rings stay within 64 MiB (pages are touched only as rings fill).
 */
export function defaultRingBytes(n: number): number {
  const budget = Math.floor((64 * 1024 * 1024) / (n * n));
  let b = MIN_RING;
  while (b * 2 <= Math.min(budget, 1 << 20)) b *= 2;
  return b;
}

/**
 * Most a pair's staging area may grow to for `n` ranks in one process:
 * 256 MiB up to 8 ranks, less beyond so the n² reservations stay within
 * 16 GiB of address space (only what a pair has used is memory).
 */
export function defaultBulkBytes(n: number): number {
  const budget = Math.floor((16 * 1024 * 1024 * 1024) / (n * n));
  let b = 1 << 20;
  while (b * 2 <= Math.min(budget, 1 << 28)) b *= 2;
  return b;
}

/** ES2024's growable SharedArrayBuffer, typed here: the project's TypeScript lib predates it. */
export interface GrowableShared extends SharedArrayBuffer {
  readonly maxByteLength: number;
  grow(bytes: number): void;
}

const Shared = SharedArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => GrowableShared;

/**
 * `bulkBytes`: most each pair's staging area for large messages grows to
 * (a power of two; 0: none, every message goes through the rings).
 */
export function createRegion(ranks: readonly number[], ringBytes = defaultRingBytes(ranks.length), bulkBytes = defaultBulkBytes(ranks.length)): ShmRegion {
  if (bulkBytes !== 0 && (!Number.isInteger(bulkBytes) || bulkBytes < 4096 || bulkBytes > MAX_RING || (bulkBytes & (bulkBytes - 1)) !== 0)) {
    throw new FmiError('FMI_CONFIG', `shm staging size must be 0 or a power of two from 4096 to ${MAX_RING} bytes, got ${bulkBytes}`, { channel: 'shm' });
  }
  if (!Number.isInteger(ringBytes) || ringBytes < 1024 || ringBytes > MAX_RING || (ringBytes & (ringBytes - 1)) !== 0) {
    throw new FmiError('FMI_CONFIG', `shm ring size must be a power of two from 1024 to ${MAX_RING} bytes, got ${ringBytes}`, { channel: 'shm' });
  }
  if (new Set(ranks).size !== ranks.length || ranks.some((r) => !Number.isInteger(r) || r < 0)) {
    throw new FmiError('FMI_CONFIG', `shm region ranks must be distinct ranks, got ${JSON.stringify(ranks)}`, { channel: 'shm' });
  }
  const n = ranks.length;
  const sab = new SharedArrayBuffer(n * CTRL_WORDS * 4 + n * n * (RING_HEADER_BYTES + ringBytes));
  return { sab, ranks: [...ranks], ringBytes, bulk: bulkBytes === 0 ? [] : stagingAreas(n, bulkBytes) };
}

/** Empty growable buffers: nothing is committed until a pair sends a large message. */
function stagingAreas(n: number, max: number): (SharedArrayBuffer | null)[] {
  try {
    return Array.from({ length: n * n }, (_, i) => (Math.floor(i / n) === i % n ? null : new Shared(0, { maxByteLength: max })));
  } catch {
    // No address space for them (a ulimit -v): the rings carry everything, as they can.
    return [];
  }
}

/** Byte offset of the ring that carries slot `from`'s messages to slot `to`. */
export function ringOffset(r: ShmRegion, from: number, to: number): number {
  const n = r.ranks.length;
  return n * CTRL_WORDS * 4 + (from * n + to) * (RING_HEADER_BYTES + r.ringBytes);
}

/** Whether `v` looks like a region (what a worker finds in its workerData). */
export function isRegion(v: unknown): v is ShmRegion {
  const r = v as ShmRegion | undefined;
  return typeof r === 'object' && r !== null && r.sab instanceof SharedArrayBuffer && Array.isArray(r.ranks) && typeof r.ringBytes === 'number';
}

/**
 * Marks slot `slot` closed and wakes everyone who might wait on it: what a
 * rank's close() does, done for it by its host when its thread ended
 * without closing (process.exit, an uncaught exception, terminate()).
 */
export function markGone(r: ShmRegion, slot: number): void {
  const n = r.ranks.length;
  const ctl = new Int32Array(r.sab, 0, n * CTRL_WORDS);
  if (Atomics.exchange(ctl, slot * CTRL_WORDS + CLOSED, 1) !== 0) return;
  for (let s = 0; s < n; s++) {
    Atomics.add(ctl, s * CTRL_WORDS + BELL, 1);
    Atomics.notify(ctl, s * CTRL_WORDS + BELL);
    // Writers waiting for room in the rings this slot read.
    const head = new Int32Array(r.sab, ringOffset(r, s, slot), RING_HEADER_BYTES / 4);
    Atomics.notify(head, TAIL);
    Atomics.notify(head, BULK_TAIL);
  }
}
