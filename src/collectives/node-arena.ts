import { decodeError, encodeError } from '../codec.js';
import { AbortError, ClosedError, FmiError, PeerLostError, type FmiErrorFields } from '../errors.js';
import type { Channel } from '../channels/channel.js';
import { defaultBlockUs } from '../channels/shm/block.js';
import { addressIn } from '../channels/shm/node-copy.js';
import { CLOSED, CTRL_WORDS, type ShmRegion } from '../channels/shm/region.js';
import { waitAsync } from '../channels/shm/wait-async.js';
import { kernelModule, type Fold4Fn, type KernelFn } from '../kernels/arena.js';
import { elemTypeOf, typedArrayCtor, type NumericArray } from '../kernels/index.js';
import { BASE, CAP, COUNT, DATA_OFFSET, ERROR_BYTES, ERROR_OFFSET, FAILED, GEN, HEADER, HEADER_WORDS, MAX_PAGES, PAGE, RELEASED } from './node-memory.js';

/** How often a wait looks whether a local rank is gone (its thread ended) although nobody woke it. */
const GONE_CHECK_MS = 100;
/**
 * How a sync's release wakes its waiters (#release): `chain` (one, and each
 * the next) or `all` (one notify). By default the chain up to
 * CHAIN_MAX_RANKS local ranks, where it took 48 us per barrier of 4 threads
 * against 58.5 quiet, and all above (8 threads: 107.5 against 94.7;
 * bench/shm-barrier.mjs). FMI_NODE_WAKE=chain|all forces one.
 */
const CHAIN_MAX_RANKS = 4;
function wakesInChain(n: number): boolean {
  const wake = process.env.FMI_NODE_WAKE;
  return wake === 'chain' || (wake !== 'all' && n <= CHAIN_MAX_RANKS);
}


/** The processes of a mixed job: each world rank's leader (the lowest rank of its process). */
export interface NodeLayout {
  /** Leaders' world ranks, ascending: one per process. */
  readonly leaders: number[];
  /** Index in `leaders` of each world rank's process. */
  readonly processOf: Int32Array;
  /** Whether every process holds a contiguous range of ranks (rank order = process order, then slot order). */
  readonly contiguous: boolean;
}

/**
 * One thread rank's handle on its process's node arena (node-memory.ts): the
 * synchronization of the local ranks through Atomics on the control block,
 * the call's slots, and the reduction kernels over that memory. Used by the
 * world communicator's collectives only: its collectives run one at a time
 * at every rank, in the same order, which is what the sets' alternation
 * relies on (a rank starts call k + 2 in the set of call k only after every
 * local rank arrived at call k + 1, so after it finished call k).
 */
export class NodeArena {
  readonly memory: WebAssembly.Memory;
  /** Local ranks, and this rank's slot among them (slot 0 leads). */
  readonly n: number;
  readonly slot: number;
  /** World rank of each slot (ascending). */
  readonly ranks: readonly number[];
  /** The channel whose collectives may take this arena: the one that carries the region's messages. */
  readonly carrier: Channel;
  /** Ranks of the whole job. */
  readonly size: number;
  readonly kernel: KernelFn;
  /** dst = ((a op b) op c) op d in one pass (d = 0: (a op b) op c; c = 0: a op b): the slices' reduction folds three contributions per pass. */
  readonly fold: Fold4Fn;
  /** memory.copy over the arena's memory: memcpy speed, where a JS copy in shared memory runs at half of it. */
  readonly copy: (dst: number, src: number, n: number) => number;
  readonly #ctl: Int32Array;
  readonly #region: Int32Array;
  /**
   * How long a wait blocks its thread (Atomics.wait) before it hands over to
   * the event loop (Atomics.waitAsync), in microseconds: FMI_NODE_BLOCK_US,
   * by default the shm channel's (block.ts: 5 ms in a job of threads only).
   * Blocking wakes sooner, but holds up the thread's event loop (the direct
   * sockets of a mixed job, timers) meanwhile; see bench/shm-coll.mjs.
   */
  readonly #blockUs: number;
  /** Whether a release wakes its waiters one after another (wakesInChain). */
  readonly #chain: boolean;
  #calls = 0;
  #scratch = new ArrayBuffer(0);
  #waiting = 0;
  /**
   * While anyone waits, keeps the thread alive (a pending waitAsync does not)
   * and wakes the waits now and then to look for a lost rank or an abort: a
   * waitAsync with a timeout would do that too, but V8 posts its timeout to
   * the event loop, a system call and a loop wake-up more per wait.
   */
  readonly #keepAlive = setInterval(() => this.#nudge(), GONE_CHECK_MS).unref();
  /** Set when a call failed half-way (a timeout, a lost rank): the arena's counters no longer agree. */
  #broken: FmiError | undefined;
  #closed = false;
  /** The processes' layout, once a two-level call found it out (two-level.ts). */
  layout: NodeLayout | undefined;

  constructor(memory: WebAssembly.Memory, region: ShmRegion, rank: number, size: number, carrier: Channel) {
    this.memory = memory;
    this.ranks = region.ranks;
    this.n = region.ranks.length;
    this.slot = region.ranks.indexOf(rank);
    this.size = size;
    this.carrier = carrier;
    this.#ctl = new Int32Array(memory.buffer, 0, DATA_OFFSET / 4);
    this.#region = new Int32Array(region.sab, 0, this.n * CTRL_WORDS);
    this.#blockUs = blockUsFromEnv() ?? defaultBlockUs(region, size);
    this.#chain = wakesInChain(this.n);
    const kernels = new WebAssembly.Instance(kernelModule(true), { env: { memory } }).exports;
    this.kernel = kernels.apply as KernelFn;
    this.fold = kernels.fold4 as Fold4Fn;
    this.copy = kernels.copy as (dst: number, src: number, n: number) => number;
  }

  /** Whether this rank's process can take collectives of the world here: slots in rank order, this rank among them. */
  get usable(): boolean {
    return this.slot >= 0 && this.ranks.every((r, i) => i === 0 || r > this.ranks[i - 1]!);
  }

  get leader(): boolean {
    return this.slot === 0;
  }

  /** Bytes per slot now. */
  get cap(): number {
    return Atomics.load(this.#ctl, CAP);
  }

  /** Starts a call: the set it uses (the calls alternate between two), after a failure the error. */
  begin(fields: FmiErrorFields): number {
    if (this.#broken) throw new FmiError(this.#broken.code, `an earlier collective failed half-way on the node arena: ${this.#broken.message}`, fields);
    return this.#calls++ & 1;
  }

  /** Byte offset of `slot`'s contribution in set `set`. */
  offset(set: number, slot: number): number {
    return Atomics.load(this.#ctl, BASE) + (set * this.n + slot) * this.cap;
  }

  /** Where `v` lies in this arena's memory (an array from sharedArray()), or -1: elsewhere, so a JS copy moves it. */
  addressOf(v: ArrayBufferView): number {
    return addressIn(this.memory, v);
  }

  /** A byte view of the memory (the buffer grows; a view made before a growth stays valid but short). */
  bytes(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, offset, length);
  }

  /** A private array like `v` (not in the arena), reused from call to call: the leaders' result lands there. */
  scratch(v: NumericArray): NumericArray {
    if (this.#scratch.byteLength < v.byteLength) this.#scratch = new ArrayBuffer(Math.max(v.byteLength, 2 * this.#scratch.byteLength));
    return new (typedArrayCtor(elemTypeOf(v)!))(this.#scratch, 0, v.length);
  }

  /** A slot's header words in set `set` (signature, bytes, ...): written before a sync, read by the others after it. */
  header(set: number, slot = this.slot): Int32Array {
    const at = HEADER + (set * this.n + slot) * HEADER_WORDS;
    return this.#ctl.subarray(at, at + HEADER_WORDS);
  }

  /**
   * Every local rank arrives; the last one to arrive releases them all.
   * Writes made before it are seen by every rank after it.
   */
  async sync(signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> {
    if (this.n === 1) return;
    const g = Atomics.load(this.#ctl, GEN);
    const at = RELEASED + (g & 1);
    const v = Atomics.load(this.#ctl, at);
    if (Atomics.add(this.#ctl, COUNT, 1) === this.n - 1) {
      Atomics.store(this.#ctl, COUNT, 0);
      return this.#release(g);
    }
    const w = this.#released(at, v, signal, fields);
    if (w !== undefined) await w;
  }

  /**
   * Every local rank arrives; the leader, once all have, runs `step` (the
   * processes' part of a two-level call) and then releases them. If `step`
   * fails, every local rank fails with its error.
   */
  async syncVia(step: () => Promise<void>, signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> {
    const g = Atomics.load(this.#ctl, GEN);
    if (!this.leader) {
      const at = RELEASED + (g & 1);
      const v = Atomics.load(this.#ctl, at);
      if (Atomics.add(this.#ctl, COUNT, 1) === this.n - 2) Atomics.notify(this.#ctl, COUNT);
      const w = this.#released(at, v, signal, fields);
      if (w !== undefined) await w;
      if (Atomics.load(this.#ctl, FAILED) !== 0) {
        const len = Atomics.load(this.#ctl, FAILED);
        throw decodeError(this.bytes(ERROR_OFFSET, len).slice(), fields);
      }
      return;
    }
    for (let c = Atomics.load(this.#ctl, COUNT); c !== this.n - 1; c = Atomics.load(this.#ctl, COUNT)) await this.#until(COUNT, c, signal, fields);
    Atomics.store(this.#ctl, COUNT, 0);
    let failure: unknown;
    try {
      await step();
      Atomics.store(this.#ctl, FAILED, 0);
    } catch (err) {
      failure = err;
      const e = err instanceof FmiError ? err : new FmiError('FMI_CHANNEL', String((err as Error)?.message ?? err), fields);
      const bytes = encodeError(e).bytes.subarray(0, ERROR_BYTES);
      this.bytes(ERROR_OFFSET, bytes.byteLength).set(bytes);
      Atomics.store(this.#ctl, FAILED, bytes.byteLength);
    }
    this.#release(g);
    if (failure !== undefined) throw failure;
  }

  /**
   * Releases generation `g`'s waiters: one notify wakes them all, or in a
   * chain (wakesInChain) one, which wakes the next as it wakes (#released).
   * Waking all holds V8's futex mutex while it signals each waiter, and each
   * woken thread blocks on that mutex again: a bare barrier of 4 threads
   * took 12.3 futex calls against 9.1 in turns at load 5-7 (alike at load
   * 10-14); the turns put the waiters' wake-ups one after another, so the
   * last waiter's release grows with the ranks (bench/shm-barrier.mjs).
   */
  #release(g: number): void {
    const at = RELEASED + (g & 1);
    Atomics.store(this.#ctl, GEN, g + 1);
    Atomics.store(this.#ctl, at, g + 1);
    Atomics.notify(this.#ctl, at, this.#chain ? 1 : undefined);
  }

  /**
   * Waits for the release of a sync (word `at` no longer holds `v`); in a
   * chain then wakes the next waiter. Its parity's word: a
   * waiter of the next sync waits on the other one, so a late waker of this
   * one cannot wake it in vain. Undefined when the wait ended blocking (no
   * promise to await).
   */
  #released(at: number, v: number, signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> | undefined {
    const w = this.#until(at, v, signal, fields);
    if (w === undefined) {
      if (this.#chain) Atomics.notify(this.#ctl, at, 1);
      return undefined;
    }
    return this.#chain ? w.then(() => void Atomics.notify(this.#ctl, at, 1)) : w;
  }

  /**
   * Makes every slot hold at least `bytes` (the leader grows the memory
   * while the others wait): only where every rank knows the same `bytes`,
   * after a sync in which they found it too large.
   */
  async grow(bytes: number, signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> {
    await this.syncVia(async () => this.growNow(bytes, fields), signal, fields);
  }

  /**
   * The leader's part of grow(), for a leader that already holds the others
   * (syncVia). The sets grow where they are when they end the memory, else
   * (the ranks' arrays took pages after them) anew at its end: the old place
   * stays unused. Their contents are not kept: every caller copies again.
   */
  growNow(bytes: number, fields: FmiErrorFields): void {
    let cap = this.cap;
    if (bytes <= cap) return;
    while (cap < bytes) cap *= 2;
    const base = Atomics.load(this.#ctl, BASE);
    const size = 2 * this.n * cap;
    const have = this.memory.buffer.byteLength;
    const tooLarge = () => new FmiError('MPI_ERR_COUNT', `${bytes} bytes per rank do not fit the node arena (4 GiB for ${this.n} ranks, twice, and the ranks' shared arrays)`, fields);
    let at = -1;
    try {
      if (pageUp(base + 2 * this.n * this.cap) === have) {
        // memory.grow is atomic: another thread's array may have taken the pages after the sets meanwhile.
        const old = this.memory.grow(pageUp(base + size - have) / PAGE);
        if (old * PAGE === have) at = base;
      }
      if (at < 0) at = this.memory.grow(pageUp(size) / PAGE) * PAGE;
    } catch {
      throw tooLarge();
    }
    if (at + size > MAX_PAGES * PAGE) throw tooLarge();
    Atomics.store(this.#ctl, BASE, at);
    Atomics.store(this.#ctl, CAP, cap);
  }

  /**
   * Waits until word `index` no longer holds `value`: blocking first
   * (#blockUs), then on the event loop. Undefined when it ended blocking.
   */
  #until(index: number, value: number, signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> | undefined {
    // A notify meant for the previous sync may wake this one (it came late): only a changed word counts.
    if (this.#blockUs > 0) {
      const end = performance.now() + this.#blockUs / 1000;
      for (let left = this.#blockUs / 1000; left > 0 && Atomics.load(this.#ctl, index) === value; left = end - performance.now()) Atomics.wait(this.#ctl, index, value, left);
    }
    if (Atomics.load(this.#ctl, index) !== value) return undefined;
    return this.#untilAsync(index, value, signal, fields);
  }

  /** #until on the event loop (Atomics.waitAsync). */
  async #untilAsync(index: number, value: number, signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> {
    // A pending waitAsync does not keep the thread alive: a ref'd timer does, while anyone waits.
    if (this.#waiting++ === 0) this.#keepAlive.ref();
    try {
      while (Atomics.load(this.#ctl, index) === value) {
        if (signal?.aborted) throw signal.reason instanceof FmiError ? signal.reason : new AbortError('aborted', fields);
        if (this.#closed) throw new ClosedError('the rank closed while waiting on the node arena', fields);
        const w = waitAsync(this.#ctl, index, value);
        if (w.async) await w.value;
        if (Atomics.load(this.#ctl, index) !== value) return;
        const gone = this.#gone();
        if (gone >= 0) throw new PeerLostError(`rank ${this.ranks[gone]} (a thread of this process) is gone`, { ...fields, peer: this.ranks[gone] });
      }
    } catch (err) {
      this.#broken ??= err as FmiError;
      throw err;
    } finally {
      if (--this.#waiting === 0) this.#keepAlive.unref();
    }
  }

  /** Wakes this arena's waits (other ranks' too: they look at their word and wait again). */
  #nudge(): void {
    if (this.#waiting === 0) return;
    this.#wakeAll();
  }

  #wakeAll(): void {
    Atomics.notify(this.#ctl, RELEASED);
    Atomics.notify(this.#ctl, RELEASED + 1);
    Atomics.notify(this.#ctl, COUNT);
  }

  /** The rank closed: its keep-alive timer goes (a wait would keep it ref'd, and the process alive), and a wait still pending fails with FMI_CLOSED (nothing would wake it any more). */
  close(): void {
    clearInterval(this.#keepAlive);
    this.#closed = true;
    this.#wakeAll();
  }

  /** A local slot whose thread ended (or closed its channel), or -1. */
  #gone(): number {
    for (let s = 0; s < this.n; s++) if (s !== this.slot && Atomics.load(this.#region, s * CTRL_WORDS + CLOSED) !== 0) return s;
    return -1;
  }
}

function pageUp(bytes: number): number {
  return Math.ceil(bytes / PAGE) * PAGE;
}

/** FMI_NODE_BLOCK_US, if set (0: never block); unset or not a number >= 0: undefined, the default. */
function blockUsFromEnv(): number | undefined {
  const s = process.env.FMI_NODE_BLOCK_US;
  const v = Number(s);
  return s === undefined || s === '' || !Number.isFinite(v) || v < 0 ? undefined : v;
}
