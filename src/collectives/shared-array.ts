import { isMainThread, workerData } from 'node:worker_threads';
import { FmiError } from '../errors.js';
import { ownBy } from '../channels/shm/node-copy.js';
import { SHM_WORKER_KEY, type ShmWorkerData } from '../channels/shm/worker-data.js';
import type { NumericArray } from '../kernels/types.js';
import { MAX_PAGES, PAGE } from './node-memory.js';

/** A typed-array constructor that sharedArray() accepts. */
export type NumericArrayCtor<T extends NumericArray = NumericArray> = {
  new (n: number): T;
  new (buf: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/**
 * A typed array of `length` elements (zeroed) that the collectives of
 * thread ranks (`fmi run --threads`) work on in place: it lives in the
 * process's node arena, the shared WebAssembly.Memory where the ranks
 * reduce. An allreduce of such arrays reads every rank's contribution where
 * it is (no copy in) and, when every rank's `into` is one too, writes each
 * slice of the result straight into all of them (no copy out); else it
 * copies the result out with Wasm `memory.copy` (twice the speed of a JS
 * copy out of shared memory); a message of such
 * an array between thread ranks goes through the channel's staging area
 * with memory.copy too (channels/shm/bulk.ts). Anywhere else (a
 * rank that is a process, the main thread) it is a plain `new ctor(length)`:
 * code that uses it runs everywhere.
 *
 * The memory is the process's for the rest of its life (small arrays share
 * this thread's last 64 KiB page, larger ones take whole pages): allocate
 * once and reuse, not per call. Other threads of the
 * process can see it; only the collectives touch it, while the call runs.
 */
export function sharedArray<T extends NumericArray>(ctor: NumericArrayCtor<T>, length: number): T {
  if (!Number.isSafeInteger(length) || length < 0) throw new FmiError('MPI_ERR_COUNT', `sharedArray: length must be a non-negative integer, got ${length}`);
  const memory = nodeMemory();
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  if (memory === undefined || bytes === 0) return new ctor(length);
  const at = place(memory, bytes);
  const v = new ctor(memory.buffer, at, length);
  ownBy(v.buffer, memory);
  return v;
}

/** This thread's last pages in the memory: where the next small array goes, and where they end. */
let next = 0;
let end = 0;
/** Arrays start on 64-byte lines: a kernel's vectors never straddle one, and two arrays never share one. */
const LINE = 64;

function place(memory: WebAssembly.Memory, bytes: number): number {
  const want = Math.ceil(bytes / LINE) * LINE;
  if (end - next >= want) {
    next += want;
    return next - want;
  }
  const pages = Math.ceil(want / PAGE);
  let old: number;
  try {
    // Atomic in a shared memory: the pages from `old` on are this thread's alone, whatever other threads grow meanwhile.
    old = memory.grow(pages);
  } catch (cause) {
    throw new FmiError('MPI_ERR_COUNT', `sharedArray: ${bytes} bytes do not fit the node arena (${MAX_PAGES * PAGE} bytes in all)`, { cause });
  }
  // What is left of the last page takes the next small arrays.
  next = old * PAGE + want;
  end = (old + pages) * PAGE;
  return old * PAGE;
}

function nodeMemory(): WebAssembly.Memory | undefined {
  if (isMainThread) return undefined;
  const node = ((workerData as Record<string, unknown> | null | undefined)?.[SHM_WORKER_KEY] as ShmWorkerData | undefined)?.node;
  return node instanceof WebAssembly.Memory ? node : undefined;
}
