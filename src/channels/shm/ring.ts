import { BELL, CTRL_WORDS, HEAD, RING_HEADER_BYTES, TAIL, WRITER_WAITING, ringOffset, type ShmRegion } from './region.js';
import { copyBytes } from './copy-bytes.js';
import { waitAsync } from './wait-async.js';

/**
 * One single-producer single-consumer byte ring in shared memory. Positions
 * are byte counters modulo 2^32 (the capacity, a power of two, divides it):
 * used = head - tail. The writer alone stores HEAD, the reader alone TAIL,
 * each after its copy (Atomics.store orders the copy before the new position
 * for the other side's Atomics.load).
 */
export class Ring {
  readonly ctrl: Int32Array;
  readonly data: Uint8Array;
  readonly capacity: number;
  readonly #mask: number;
  /** The control words of the region, and the writer's doorbell in them: a writer blocked in Atomics.wait waits on its bell. */
  readonly #ctl: Int32Array;
  readonly #writerBell: number;
  /** This side's own position, published with publish() / release(). */
  #head = 0;
  #tail = 0;
  /**
   * The writer's last look at the reader's position (it only grows): room
   * against it is room for sure, and while there is, the writer leaves TAIL
   * alone, so its line stays in the reader's cache (a miss each way less per
   * message: fits()).
   */
  #tailSeen = 0;

  constructor(region: ShmRegion, from: number, to: number) {
    const at = ringOffset(region, from, to);
    this.ctrl = new Int32Array(region.sab, at, RING_HEADER_BYTES / 4);
    this.data = new Uint8Array(region.sab, at + RING_HEADER_BYTES, region.ringBytes);
    this.capacity = region.ringBytes;
    this.#mask = region.ringBytes - 1;
    this.#ctl = new Int32Array(region.sab, 0, region.ranks.length * CTRL_WORDS);
    this.#writerBell = from * CTRL_WORDS + BELL;
    this.#head = Atomics.load(this.ctrl, HEAD) >>> 0;
    this.#tail = Atomics.load(this.ctrl, TAIL) >>> 0;
    this.#tailSeen = this.#tail;
  }

  // --- the writer's side

  /** Bytes the writer may write now. */
  free(): number {
    this.#tailSeen = Atomics.load(this.ctrl, TAIL) >>> 0;
    return this.capacity - ((this.#head - this.#tailSeen) >>> 0);
  }

  /** Whether the writer may write `bytes` now; looks at the reader's position only when the last look leaves too little room. */
  fits(bytes: number): boolean {
    return this.capacity - ((this.#head - this.#tailSeen) >>> 0) >= bytes || this.free() >= bytes;
  }

  /** Copies `src` in at the writer's position (the caller checked free()); not visible until publish(). */
  write(src: Uint8Array): void {
    const n = src.byteLength;
    const at = this.#head & this.#mask;
    const first = Math.min(n, this.capacity - at);
    if (n <= SMALL_COPY) {
      const data = this.data;
      const mask = this.#mask;
      for (let i = 0; i < n; i++) data[(at + i) & mask] = src[i]!;
    } else {
      copyBytes(this.data, at, first === n ? src : src.subarray(0, first));
      if (first < n) copyBytes(this.data, 0, src.subarray(first));
    }
    this.#head = (this.#head + n) >>> 0;
  }

  publish(): void {
    Atomics.store(this.ctrl, HEAD, this.#head | 0);
  }

  /**
   * Waits until the reader frees room for at least `bytes`; resolves at once
   * when it did meanwhile. No spinning: the reader notifies on TAIL.
   */
  async room(bytes = 1): Promise<void> {
    const tail = this.wantRoom(bytes);
    if (tail === undefined) return;
    const w = waitAsync(this.ctrl, TAIL, tail);
    if (w.async) await w.value;
  }

  /**
   * Asks the reader to say when it frees room (it notifies TAIL and rings
   * the writer's bell); undefined when there is room for `bytes` already,
   * else the tail to wait on.
   */
  wantRoom(bytes: number): number | undefined {
    // The flag first, then the tail: a release after this load sees the flag and notifies.
    Atomics.store(this.ctrl, WRITER_WAITING, 1);
    const tail = Atomics.load(this.ctrl, TAIL);
    this.#tailSeen = tail >>> 0;
    // The reader may have freed room since the writer found none (it did not notify then):
    // waiting for the tail to move from here would wait for a release that may never come.
    return this.capacity - ((this.#head - tail) >>> 0) >= bytes ? undefined : tail;
  }

  // --- the reader's side

  /** Bytes the reader may read now. */
  available(): number {
    return (Atomics.load(this.ctrl, HEAD) - this.#tail) >>> 0;
  }

  /** Copies the next `n` bytes into `dst` from `dstAt` on (or skips them when it is undefined); not freed until release(). */
  read(dst: Uint8Array | undefined, n: number, dstAt = 0): void {
    if (dst !== undefined) {
      const at = this.#tail & this.#mask;
      const first = Math.min(n, this.capacity - at);
      if (n <= SMALL_COPY) {
        const data = this.data;
        const mask = this.#mask;
        for (let i = 0; i < n; i++) dst[dstAt + i] = data[(at + i) & mask]!;
      } else {
        copyBytes(dst, dstAt, this.data.subarray(at, at + first));
        if (first < n) copyBytes(dst, dstAt + first, this.data.subarray(0, n - first));
      }
    }
    this.#tail = (this.#tail + n) >>> 0;
  }

  release(): void {
    Atomics.store(this.ctrl, TAIL, this.#tail | 0);
    if (Atomics.load(this.ctrl, WRITER_WAITING) !== 0) {
      Atomics.store(this.ctrl, WRITER_WAITING, 0);
      Atomics.notify(this.ctrl, TAIL);
      Atomics.add(this.#ctl, this.#writerBell, 1);
      Atomics.notify(this.#ctl, this.#writerBell);
    }
  }
}

/**
 * Up to this many bytes are copied byte by byte: a header or a small payload
 * costs a set() two typed-array views (subarray), and their garbage, more
 * than the copy itself (a quarter of a round trip's time went to the
 * collector in a one-thread ping-pong of 8 B).
 */
const SMALL_COPY = 64;

