import { ChannelError } from '../../errors.js';
import { BELL, BULK_HEAD, BULK_TAIL, BULK_WAITING, BULK_WRITING, CLOSED, CTRL_WORDS, RING_HEADER_BYTES, ringOffset, type GrowableShared, type ShmRegion } from './region.js';
import { copyBytes } from './copy-bytes.js';
import { addressIn, copierFor } from './node-copy.js';
import { waitAsync } from './wait-async.js';

/** Payload bytes the writer copies between two publications: the reader copies the one before meanwhile. */
const CHUNK = 128 * 1024;
/** The least a staging area grows to at once. */
const MIN_BYTES = 64 * 1024;
/** How long a reader polls for the next chunk of a copy under way before it blocks in Atomics.wait. */
const POLL_MS = 0.02;
/** A blocked reader looks again this often (the writer's thread may have ended mid-copy). */
const WAIT_MS = 1;
const PAGE = 65536;
/** Staging areas take node memory while it stays within this (a quarter of its 4 GiB): the rest is for the arena and the ranks' shared arrays. */
const NODE_LIMIT = 1 << 30;

/** Where a large message's payload starts in the staging area, the area's size then (log2), and where the area is: a byte offset in the node memory, or -1 (the pair's own buffer). */
export interface Placement {
  start: number;
  log2: number;
  at: number;
}

/** The node memory of the process's thread ranks, where staging areas go first, with memory.copy over it. */
interface NodeMemory {
  memory: WebAssembly.Memory;
  copy: (dst: number, src: number, n: number) => void;
  /** A byte view of the whole memory, made again after it grew. */
  view: Uint8Array;
}

/**
 * The staging area of one ordered pair for large messages: a byte ring in a
 * growable SharedArrayBuffer, with its positions in the pair's ring header.
 * A message's descriptor goes through the pair's ring (so it keeps its place
 * among small messages); its payload goes here in one go, and the reader
 * copies it out as it comes (both copies run at once, on two cores). When
 * the area is empty, the next payload starts at its beginning again (the
 * same pages and cache lines each time), after growing it if it is too
 * small; it never shrinks: fresh pages cost a fault each.
 *
 * With the node memory (the shared Wasm memory of the process's thread
 * ranks, collectives/node-memory.ts) the area is pages of it, taken with
 * memory.grow (a larger area takes new pages: the old ones stay unused): a
 * payload that lies there too (sharedArray()) goes in, and out into a
 * receive buffer that lies there, with Wasm memory.copy. Other payloads go
 * in and out with copyBytes (Buffer#fill: a memcpy too, where a TypedArray
 * set into or out of shared memory runs at half of it). Past the first GiB of the node
 * memory (the rest is the arena's and the shared arrays'), the pair's own
 * growable buffer serves.
 *
 * Positions are byte counters modulo 2^32, like the ring's. The writer alone
 * stores BULK_HEAD, the reader alone BULK_TAIL.
 */
export class Bulk {
  readonly #sab: GrowableShared;
  readonly #ctrl: Int32Array;
  readonly #ctl: Int32Array;
  readonly #writerBell: number;
  readonly #writerClosed: number;
  readonly #readerBell: number;
  /** A length-tracking view of the pair's own buffer: it follows it as it grows. */
  readonly #data: Uint8Array;
  readonly #node: NodeMemory | undefined;
  // The writer's side.
  /** Where the writer's area is: a byte offset in the node memory, or -1 (the pair's own buffer). */
  #at = -1;
  #head: number;
  /** Where the writer jumped to the area's start: what lies before is free, whatever BULK_TAIL says until the reader gets there. */
  #base: number;
  #cap: number;
  // The reader's side.
  #tail: number;
  #mask = 0;
  /** Where the area of the message being read is (as #at). */
  #from = -1;

  /** `node`: the node memory, where the staging areas go first (they stay in the pair's own buffer without it). */
  constructor(region: ShmRegion, from: number, to: number, node?: WebAssembly.Memory) {
    const n = region.ranks.length;
    this.#sab = region.bulk![from * n + to] as GrowableShared;
    this.#ctrl = new Int32Array(region.sab, ringOffset(region, from, to), RING_HEADER_BYTES / 4);
    this.#ctl = new Int32Array(region.sab, 0, n * CTRL_WORDS);
    this.#writerBell = from * CTRL_WORDS + BELL;
    this.#writerClosed = from * CTRL_WORDS + CLOSED;
    this.#readerBell = to * CTRL_WORDS + BELL;
    this.#data = new Uint8Array(this.#sab);
    this.#head = this.#base = Atomics.load(this.#ctrl, BULK_HEAD) >>> 0;
    this.#tail = Atomics.load(this.#ctrl, BULK_TAIL) >>> 0;
    this.#cap = this.#sab.byteLength;
    this.#node = node === undefined ? undefined : { memory: node, copy: copierFor(node), view: new Uint8Array(node.buffer) };
  }

  /** Whether region `r` has staging areas for the pair (from, to). */
  static in(r: ShmRegion, from: number, to: number): boolean {
    return (r.bulk?.[from * r.ranks.length + to] ?? null) !== null;
  }

  // --- the writer's side

  /** Bytes the writer may write now. */
  free(): number {
    return this.#cap - ((this.#head - this.#released()) >>> 0);
  }

  /**
   * Places a payload of `len` bytes, or undefined when it must wait for room
   * (roomFor(len) bytes); write() must follow in the same turn. An empty area is grown for it first (up to its
   * maximum: a larger payload streams through) and the payload starts at
   * offset 0; else it follows the last one when it fits whole.
   */
  place(len: number): Placement | undefined {
    const used = (this.#head - this.#released()) >>> 0;
    if (used === 0) {
      const want = Math.min(this.#sab.maxByteLength, Math.max(MIN_BYTES, pow2(len)));
      if (this.#cap < want) this.#grow(want);
      const off = this.#head & (this.#cap - 1);
      if (off !== 0) this.#head = (this.#head + this.#cap - off) >>> 0;
      this.#base = this.#head;
      // Before the descriptor is published: the reader counts what it may read from here.
      Atomics.store(this.#ctrl, BULK_HEAD, this.#head | 0);
    } else if (this.#cap - used < len) return undefined;
    // Up before the descriptor is published, down when the copy (write(), which follows at once) ends: a reader
    // that finds the descriptor before the first chunk waits for it, instead of for a bell that will not come.
    Atomics.store(this.#ctrl, BULK_WRITING, 1);
    return { start: this.#head, log2: Math.log2(this.#cap), at: this.#at };
  }

  /** A larger area (only while it is empty): new pages of the node memory, else the pair's own buffer grown. */
  #grow(want: number): void {
    if (this.#node !== undefined && this.#node.memory.buffer.byteLength + want <= NODE_LIMIT) {
      try {
        // Atomic in a shared memory: the pages from `old` on are this area's alone.
        const old = this.#node.memory.grow(want / PAGE);
        this.#at = old * PAGE;
        this.#cap = want;
        return;
      } catch {
        // The node memory is full (4 GiB): the pair's own buffer then.
      }
    }
    try {
      if (this.#sab.byteLength < want) this.#sab.grow(want);
    } catch (cause) {
      // What it has will do (a payload larger streams through); with nothing yet, this send fails.
      if (this.#cap === 0) throw new ChannelError(`no memory for a ${want}-byte shm staging area (${(cause as Error).message})`, { channel: 'shm', op: 'send', cause });
      return;
    }
    this.#at = -1;
    this.#cap = want;
  }

  /** The room place(len) waits for: all of it, or the whole area (empty: it may grow). */
  roomFor(len: number): number {
    return Math.min(len, this.#cap);
  }

  /** The room worth waiting for to stream the rest of a payload larger than the area. */
  chunkFor(left: number): number {
    return Math.max(1, Math.min(left, this.#cap >>> 2));
  }

  /**
   * Copies what fits of `src` from `off` in, a chunk at a time, each
   * published as it lands (a reader waiting for it follows); the bytes
   * written. Never waits.
   */
  write(src: Uint8Array, off: number): number {
    const ctrl = this.#ctrl;
    const mask = this.#cap - 1;
    let wrote = 0;
    Atomics.store(ctrl, BULK_WRITING, 1);
    try {
      for (;;) {
        const n = Math.min(this.free(), src.byteLength - off, CHUNK);
        if (n <= 0) break;
        const at = this.#head & mask;
        const first = Math.min(n, this.#cap - at);
        this.#copyIn(src, off, at, first);
        if (first < n) this.#copyIn(src, off + first, 0, n - first);
        this.#head = (this.#head + n) >>> 0;
        off += n;
        wrote += n;
        Atomics.store(ctrl, BULK_HEAD, this.#head | 0);
        Atomics.notify(ctrl, BULK_HEAD);
      }
    } finally {
      // After the last head: a reader that sees the flag down sees every byte of this copy.
      Atomics.store(ctrl, BULK_WRITING, 0);
    }
    return wrote;
  }

  /** `n` bytes of `src` from `off` on into the writer's area at `to`. */
  #copyIn(src: Uint8Array, off: number, to: number, n: number): void {
    const node = this.#node;
    if (this.#at < 0 || node === undefined) {
      copyBytes(this.#data, to, src.subarray(off, off + n));
      return;
    }
    const from = addressIn(node.memory, src);
    if (from >= 0) node.copy(this.#at + to, from + off, n);
    else copyBytes(viewOf(node, this.#at + to + n), this.#at + to, src.subarray(off, off + n));
  }

  /** Waits until the reader frees room for `bytes` (resolves at once when it did meanwhile). */
  async room(bytes: number): Promise<void> {
    const tail = this.wantRoom(bytes);
    if (tail === undefined) return;
    const w = waitAsync(this.#ctrl, BULK_TAIL, tail);
    if (w.async) await w.value;
  }

  /**
   * Asks the reader to say when it frees room: undefined when there is room
   * for `bytes` now, else the tail to wait on. The reader is rung too: it may
   * hold an early message here for its receive (Inbox parks it), and gives
   * the room up once it sees a writer waiting.
   */
  wantRoom(bytes: number): number | undefined {
    Atomics.store(this.#ctrl, BULK_WAITING, 1);
    const tail = Atomics.load(this.#ctrl, BULK_TAIL);
    if (this.free() >= bytes) {
      // Not waiting after all: a flag left up would make the reader give up a parked message for nothing.
      Atomics.store(this.#ctrl, BULK_WAITING, 0);
      return undefined;
    }
    Atomics.add(this.#ctl, this.#readerBell, 1);
    Atomics.notify(this.#ctl, this.#readerBell);
    return tail;
  }

  #released(): number {
    const t = Atomics.load(this.#ctrl, BULK_TAIL) >>> 0;
    return ((t - this.#base) | 0) >= 0 ? t : this.#base;
  }

  // --- the reader's side

  /** A descriptor came: its payload starts at `p.start` in an area of 2^p.log2 bytes. */
  begin(p: Placement): void {
    this.#mask = 2 ** p.log2 - 1;
    this.#from = p.at;
    if (this.#tail !== p.start) {
      // The writer jumped to the area's start: what it skipped is free.
      this.#tail = p.start;
      this.release();
    }
  }

  /** Bytes the reader may read now. */
  available(): number {
    return (Atomics.load(this.#ctrl, BULK_HEAD) - this.#tail) >>> 0;
  }

  /** Whether the writer waits for room. */
  writerWaits(): boolean {
    return Atomics.load(this.#ctrl, BULK_WAITING) !== 0;
  }

  /** Whether the writer is copying in now (what it copies is published chunk by chunk). */
  writing(): boolean {
    return Atomics.load(this.#ctrl, BULK_WRITING) !== 0 && Atomics.load(this.#ctl, this.#writerClosed) === 0;
  }

  /** Copies the next `n` bytes into `dst` (or skips them when it is undefined). */
  read(dst: Uint8Array | undefined, n: number): void {
    if (dst !== undefined) {
      const at = this.#tail & this.#mask;
      const first = Math.min(n, this.#mask + 1 - at);
      this.#copyOut(dst, 0, at, first);
      if (first < n) this.#copyOut(dst, first, 0, n - first);
    }
    this.#tail = (this.#tail + n) >>> 0;
  }

  /** `n` bytes of the reader's area from `at` on into `dst` from `off` on. */
  #copyOut(dst: Uint8Array, off: number, at: number, n: number): void {
    const node = this.#node;
    if (this.#from < 0 || node === undefined) {
      copyBytes(dst, off, this.#data.subarray(at, at + n));
      return;
    }
    const from = this.#from + at;
    const to = addressIn(node.memory, dst);
    if (to >= 0) node.copy(to + off, from, n);
    else copyBytes(dst, off, viewOf(node, from + n).subarray(from, from + n));
  }

  release(): void {
    Atomics.store(this.#ctrl, BULK_TAIL, this.#tail | 0);
    if (Atomics.load(this.#ctrl, BULK_WAITING) !== 0) {
      Atomics.store(this.#ctrl, BULK_WAITING, 0);
      Atomics.notify(this.#ctrl, BULK_TAIL);
      Atomics.add(this.#ctl, this.#writerBell, 1);
      Atomics.notify(this.#ctl, this.#writerBell);
    }
  }

  /**
   * Waits for the next chunk of a copy under way in another thread: polls a
   * few microseconds, then blocks in Atomics.wait (the writer notifies each
   * chunk). Bounded by the writer's copy, which never waits itself.
   */
  awaitChunk(): void {
    const head = Atomics.load(this.#ctrl, BULK_HEAD);
    const end = performance.now() + POLL_MS;
    while (Atomics.load(this.#ctrl, BULK_HEAD) === head) {
      if (performance.now() >= end) {
        Atomics.wait(this.#ctrl, BULK_HEAD, head, WAIT_MS);
        return;
      }
    }
  }

  /** This side closes: a writer waiting for room wakes and sees it. */
  wakeWriter(): void {
    Atomics.notify(this.#ctrl, BULK_TAIL);
  }
}

/** A view of the node memory up to `end` at least (made again when the memory grew since). */
function viewOf(node: NodeMemory, end: number): Uint8Array {
  if (node.view.byteLength < end) node.view = new Uint8Array(node.memory.buffer);
  return node.view;
}

function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
