import type { ShmRegion } from '../channels/shm/region.js';

/**
 * The node arena's memory: one shared WebAssembly.Memory per process of
 * thread ranks, made by whoever starts them (rank-threads.ts) and handed to
 * every thread in its workerData. A Wasm memory rather than a bare
 * SharedArrayBuffer so that every thread's reduction kernels run in place
 * over all the ranks' contributions (node-arena.ts). Nothing here loads
 * Wasm: a Lambda bundle imports this file.
 *
 * Layout (bytes): the control block in the first 64 KiB (Int32 words, see
 * the word indexes below), then the data from BASE on: two sets (calls
 * alternate between them) of one slot per rank, CAP bytes each. The ranks'
 * own arrays in this memory (shared-array.ts) take whole pages at its end,
 * so the sets move to its end when they outgrow their place (growNow).
 */
export const PAGE = 65536;
export const DATA_OFFSET = PAGE;
/** Wasm memories address at most 4 GiB. */
export const MAX_PAGES = 65536;
/**
 * Up to this many bytes, every rank of a one-process job folds all the
 * slots into its own result itself: one sync per reduction instead of two
 * (the slices' reduction, then everyone copies), which costs more than
 * folding n - 1 small arrays again at every rank (node-reduce.ts; the model
 * prices the same, model/node.ts).
 */
export const FOLD_MAX_BYTES = 32 * 1024;
/** Slot bytes to start with: a 16 KiB contribution needs no growth. */
export const INITIAL_CAP = 16 * 1024;

// Control words. Each counter has a cache line of its own.
/** Arrivals at the current synchronization. */
export const COUNT = 0;
/** Bumped when every rank arrived (the generation of the next synchronization). */
export const GEN = 16;
/**
 * The last generation released, one word per parity of GEN (RELEASED + (gen & 1)):
 * a synchronization's waiters wait on their parity's word (node-arena.ts).
 */
export const RELEASED = 48;
/** Bytes per slot (a multiple of 64); changed only while every rank waits for the leader. */
export const CAP = 32;
/** Byte offset of the sets (a page boundary); changed only with CAP. */
export const BASE = 34;
/** Set with the leader's release when its step among the processes failed: the error's bytes are at ERROR_OFFSET. */
export const FAILED = 33;
/** Per-slot headers, one per set: HEADER_WORDS words each, from this word on. */
export const HEADER = 64;
export const HEADER_WORDS = 16;
/** Where a failed leader step leaves its encoded error (ERROR_BYTES at most), in the control page. */
export const ERROR_OFFSET = PAGE / 2;
export const ERROR_BYTES = PAGE / 2;
/** Local ranks the control page has headers for. */
export const MAX_LOCAL_RANKS = (ERROR_OFFSET / 4 - HEADER) / (2 * HEADER_WORDS);

const memories = new WeakMap<ShmRegion, WebAssembly.Memory>();

/** The node arena memory of `region`'s ranks: made on first call, the same object after. */
export function nodeMemoryFor(region: ShmRegion): WebAssembly.Memory | undefined {
  const n = region.ranks.length;
  if (n > MAX_LOCAL_RANKS) return undefined; // the message algorithms serve such a process
  let m = memories.get(region);
  if (m === undefined) {
    const pages = 1 + Math.ceil((2 * n * INITIAL_CAP) / PAGE);
    m = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
    const ctl = new Int32Array(m.buffer, 0, HEADER);
    ctl[CAP] = INITIAL_CAP;
    ctl[BASE] = DATA_OFFSET;
    memories.set(region, m);
  }
  return m;
}
