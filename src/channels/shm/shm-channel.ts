import { threadId } from 'node:worker_threads';
import { ChannelError, ClosedError, FmiError, PeerLostError } from '../../errors.js';
import { ANY_SOURCE, type Channel, type Envelope, type Probed, type ProbeRequest, type Received, type RecvRequest } from '../channel.js';
import { Matcher } from '../matcher.js';
import { allThreads, defaultBlockUs } from './block.js';
import { Bulk } from './bulk.js';
import { InPlace } from './in-place.js';
import { Inbox } from './inbox.js';
import { Outbox } from './outbox.js';
import { ATTACHED, BELL, CLOSED, CTRL_WORDS, SLEEPING, type ShmRegion } from './region.js';
import { Ring } from './ring.js';
import { waitAsync } from './wait-async.js';

export interface ShmChannelOptions {
  job: string;
  rank: number;
  size: number;
  /** The shared memory of the ranks in this process (a worker finds it in its workerData). */
  region: ShmRegion;
  /** The node memory of the ranks in this process (collectives/node-memory.ts): the staging areas of large messages go there first (bulk.ts). */
  node?: WebAssembly.Memory;
  /**
   * Before a receive or a send waits, poll for its message this many
   * microseconds (a busy core meanwhile), then block (blockUs).
   * @default 0, no spinning
   */
  spinUs?: number;
  /**
   * How long a receive or a send that must wait blocks its thread in
   * Atomics.wait (no CPU used), once the thread has run its microtasks,
   * before it leaves the wait to the event loop
   * (Atomics.waitAsync): a blocked thread wakes in a few microseconds, the
   * event loop in 15-20. Meanwhile the thread's event loop stands still
   * (timers, sockets); 0 never blocks. A receive from any source in a job
   * with ranks in other processes never blocks (their messages come through
   * the event loop). No event loop turn between one answered wait and the
   * next: the event loop runs at least every YIELD_MS (1 ms).
   * A bound shorter than the kernel's tick (4 ms here) costs every wait a
   * timer that expires before the tick, which the kernel must program and
   * cancel (on this VM two traps): 8 B ping-pong 22 µs against 11.5 µs with
   * a bound past the tick (FMI_BENCH_WAKE=wait@0.2,wait@5 node bench/shm-wake.mjs).
   * @default DEFAULT_BLOCK_US (block.ts) where every rank of the job is a thread of
   * this process, else 0 (the sockets to other processes wait for no block)
   */
  blockUs?: number;
  /**
   * Lend payloads of LEND_FROM bytes or more that lie in the node memory
   * (sharedArray()): one copy by the receiver, out of the sender's array
   * (in-place.ts), instead of two through the staging area. Opt-in: on the quiet machine the lent
   * 4 MiB ping-pong was slower than staged (bench/README.md, "Lent payloads").
   * @default false
   */
  lend?: boolean;
  /** Match arrivals in this matcher, shared with the channel to the other processes (HybridChannel). @default one of its own */
  matcher?: Matcher;
}

/**
 * How long drives may follow each other without the event loop running
 * (each waits blockUs at most; a ping-pong answers one after another): then
 * one goes through setImmediate, after the loop's timers and sockets.
 */
const YIELD_MS = 1;

/** Loads of the bell between two looks at the clock while a drive spins. */
const SPIN_LOADS = 16;

type State = 'open' | 'closed';

/**
 * Shared memory between the ranks (worker threads) of one process: a ring
 * per ordered pair, a doorbell per rank. A sender copies into the ring and
 * rings the receiver's bell; the receiver waits on its bell with
 * Atomics.waitAsync (the event loop stays free) and takes every message in
 * as it comes, into the matcher shared with the other channels.
 */
export class ShmChannel implements Channel {
  readonly name = 'shm';
  readonly rank: number;
  readonly size: number;
  readonly #slot: number;
  readonly #slotOf: Map<number, number>;
  readonly #ranks: readonly number[];
  readonly #ctl: Int32Array;
  readonly #matcher: Matcher;
  readonly #outboxes: (Outbox | undefined)[];
  readonly #inboxes: (Inbox | undefined)[];
  /** Peers seen closed, their ring drained. */
  readonly #gone: boolean[];
  readonly #spinUs: number;
  readonly #blockUs: number;
  /** Every rank of the job is in this process: a receive from any source may block too. */
  readonly #allLocal: boolean;
  /** What this thread writes in its slot's ATTACHED word: a peer's channel with the same tag runs in this thread. */
  readonly #threadTag = threadId + 1;
  /** Every peer attached, none in this thread (so blocking is of use). */
  #peersApart = false;
  /** Operations waiting that a blocking wait on the bell can answer; a drive is scheduled while this is > 0. */
  #blockable = 0;
  #driving = false;
  /** When this thread last came from its event loop (a drive by setImmediate, the watcher): drives chain without it for YIELD_MS at most. */
  #loopAt = 0;
  /** A waitAsync on the bell is pending (the watcher); while drives run, none is. */
  #armed = false;
  /** Cleared when a drive waited its whole blockUs: the event loop waits from then on, until a new operation. */
  #patient = true;
  /** An event loop turn is to give early lent messages back (#lendBack). */
  #lendBackDue = false;
  /** Sends waiting for ring room while drives run: each drive's end lets them look again. */
  #roomWaiters: (() => void)[] = [];
  #state: State = 'open';
  /** Operations waiting: while any does, a timer keeps the thread alive (a pending waitAsync does not). */
  #held = 0;
  readonly #keepAlive: NodeJS.Timeout;

  private constructor(o: ShmChannelOptions) {
    const { region } = o;
    this.rank = o.rank;
    this.size = o.size;
    this.#ranks = region.ranks;
    this.#slotOf = new Map(region.ranks.map((r, i) => [r, i]));
    this.#slot = this.#slotOf.get(o.rank) ?? -1;
    if (this.#slot < 0) throw new FmiError('FMI_CONFIG', `rank ${o.rank} is not among this process's ranks ${JSON.stringify(region.ranks)}`, { rank: o.rank, channel: 'shm' });
    const high = Math.max(...region.ranks);
    if (high >= o.size) throw new FmiError('FMI_CONFIG', `the shm region names rank ${high}, beyond a job of ${o.size}`, { rank: o.rank, channel: 'shm' });
    this.#spinUs = micros('spinUs', o.spinUs ?? 0, o.rank);
    this.#allLocal = allThreads(region, o.size);
    this.#blockUs = micros('blockUs', o.blockUs ?? defaultBlockUs(region, o.size), o.rank);
    const n = region.ranks.length;
    this.#ctl = new Int32Array(region.sab, 0, n * CTRL_WORDS);
    // Two channels reading one slot's rings would steal each other's messages.
    if (Atomics.compareExchange(this.#ctl, this.#slot * CTRL_WORDS + ATTACHED, 0, this.#threadTag) !== 0) {
      throw new ChannelError(`rank ${o.rank} has joined this job already (a channel is open, or was, for it in this process)`, { rank: o.rank, channel: 'shm' });
    }
    this.#matcher = o.matcher ?? new Matcher(o.rank, 'shm');
    this.#gone = new Array<boolean>(n).fill(false);
    const bulk = (from: number, to: number) => (Bulk.in(region, from, to) ? new Bulk(region, from, to, o.node) : undefined);
    const lend = (from: number, to: number) => (o.node === undefined || o.lend !== true ? undefined : new InPlace(region, from, to, o.node));
    this.#outboxes = region.ranks.map((_, to) => (to === this.#slot ? undefined : this.#outbox(new Ring(region, this.#slot, to), bulk(this.#slot, to), lend(this.#slot, to), to)));
    this.#inboxes = region.ranks.map((r, from) => (from === this.#slot ? undefined : new Inbox(new Ring(region, from, this.#slot), bulk(from, this.#slot), lend(from, this.#slot), this.#matcher, r, o.rank)));
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#keepAlive.unref();
    this.#arm();
  }

  static async create(o: ShmChannelOptions): Promise<ShmChannel> {
    return new ShmChannel(o);
  }

  /** Whether `rank` shares this process's memory (and so this channel). */
  has(rank: number): boolean {
    return this.#slotOf.has(rank);
  }

  send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#state !== 'open') return Promise.reject(this.#closed('send', dest));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (dest === this.rank) {
      this.#matcher.deliver(this.rank, env.ctx, env.tag, env.kind, payload);
      return Promise.resolve();
    }
    const slot = this.#slotOf.get(dest);
    if (slot === undefined) return Promise.reject(this.#notHere(dest, 'send'));
    if (Atomics.load(this.#ctl, slot * CTRL_WORDS + CLOSED) !== 0) return Promise.reject(this.#lost(dest, 'send'));
    return this.#outboxes[slot]!.send(env, payload, signal);
  }

  recv(req: RecvRequest): Promise<Received> {
    if (this.#state !== 'open') return Promise.reject(this.#closed('recv', req.source));
    this.#pumpAll();
    const waits = this.#mayBlockFor(req.source) && !this.#matcher.peek(req);
    return this.#held1(this.#matcher.post(req, () => this.#unmatched(req.source, 'recv')), waits);
  }

  cancel(ctx: number, source: number, err: Error): void {
    this.#matcher.cancel(ctx, source, err);
  }

  iprobe(req: ProbeRequest): Probed | undefined {
    if (this.#state !== 'open') throw this.#closed('iprobe', req.source);
    this.#pumpAll();
    return this.#matcher.peek(req);
  }

  probe(req: ProbeRequest): Promise<Probed> {
    if (this.#state !== 'open') return Promise.reject(this.#closed('probe', req.source));
    this.#pumpAll();
    const now = this.#matcher.peek(req);
    if (!now) {
      const err = this.#unmatched(req.source, 'probe');
      if (err) return Promise.reject(err);
    }
    return this.#held1(this.#matcher.probe(req), !now && this.#mayBlockFor(req.source));
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const ctl = this.#ctl;
    Atomics.store(ctl, this.#slot * CTRL_WORDS + CLOSED, 1);
    const err = this.#closed('close', undefined);
    for (const o of this.#outboxes) o?.failAll(err);
    // Sends that waited for a drive look again, find the channel closed and end.
    this.#roomed();
    this.#matcher.close(err);
    // Wake everyone: readers see the flag, writers waiting for room in our rings see it, our own watcher stops.
    for (let s = 0; s < this.#ranks.length; s++) this.#bell(s);
    for (const inbox of this.#inboxes) inbox?.wakeWriter();
    clearInterval(this.#keepAlive);
  }

  /**
   * Waits on this rank's doorbell with the event loop (Atomics.waitAsync) and
   * takes messages in whenever it rings; not while drives run (they watch the
   * bell themselves: a waitAsync too would cost every message an event loop
   * wake-up more).
   */
  #arm(): void {
    if (this.#armed) return;
    const ctl = this.#ctl;
    const at = this.#slot * CTRL_WORDS + BELL;
    const sleeping = this.#slot * CTRL_WORDS + SLEEPING;
    while (this.#state === 'open') {
      const seen = Atomics.load(ctl, at);
      this.#pumpAll();
      if (this.#drives()) {
        this.#schedule();
        return;
      }
      // Counted before the wait compares the bell: a ringer that finds no wait counted rang before it (#bell).
      Atomics.add(ctl, sleeping, 1);
      const w = waitAsync(ctl, at, seen);
      if (w.async) {
        // Early lent messages no receive took by the next turn go to pooled buffers: their senders wait.
        if (!this.#lendBackDue && this.#lending()) {
          this.#lendBackDue = true;
          setImmediate(this.#lendBack);
        }
        this.#armed = true;
        void w.value.then(this.#watch);
        return;
      }
      Atomics.sub(ctl, sleeping, 1);
    }
  }

  #lendBack = (): void => {
    this.#lendBackDue = false;
    if (this.#state === 'open' && this.#unlend() > 0) this.#schedule();
  };

  /** Whether early lent messages wait in their writers' arrays. */
  #lending(): boolean {
    for (const inbox of this.#inboxes) if (inbox?.lending) return true;
    return false;
  }

  /** Early lent messages go to pooled buffers: this thread went idle without a receive for them. */
  #unlend(): number {
    let n = 0;
    for (const inbox of this.#inboxes) if (inbox?.lending) n += inbox.unlend();
    return n;
  }

  #watch = (): void => {
    this.#loopAt = performance.now();
    this.#armed = false;
    Atomics.sub(this.#ctl, this.#slot * CTRL_WORDS + SLEEPING, 1);
    this.#arm();
  };

  /** Takes in what every peer has written; how many messages began, ended or failed. */
  #pumpAll(): number {
    const ctl = this.#ctl;
    let events = 0;
    for (let s = 0; s < this.#inboxes.length; s++) {
      const inbox = this.#inboxes[s];
      if (inbox === undefined || this.#gone[s]) continue;
      // The flag first: a peer sets it after its last write, so a pump after seeing it takes everything.
      const closed = Atomics.load(ctl, s * CTRL_WORDS + CLOSED) !== 0;
      events += inbox.pump();
      if (closed) {
        events++;
        this.#gone[s] = true;
        const peer = this.#ranks[s]!;
        inbox.fail(this.#lost(peer, 'recv'));
        this.#matcher.failSource(peer, this.#lost(peer, 'recv'));
        // What it acknowledged before it went completed; the rest fails.
        const o = this.#outboxes[s]!;
        o.reap();
        o.failAll(this.#lost(peer, 'send'));
      }
    }
    for (const o of this.#outboxes) if (o?.lending) events += o.reap();
    return events;
  }

  /** Whether a blocking wait on this rank's bell can bring what a receive from `source` waits for. */
  #mayBlockFor(source: number): boolean {
    return source === ANY_SOURCE ? this.#allLocal : source !== this.rank && this.#slotOf.has(source);
  }

  /** Whether operations wait that a drive should answer. */
  #drives(): boolean {
    return this.#blockable > 0 && this.#patient && this.#spinUs + this.#blockUs > 0 && !this.#peerInThisThread();
  }

  /** A new operation waits: drives may run for it (again). */
  #waits(): void {
    this.#blockable++;
    this.#patient = true;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#driving || this.#spinUs + this.#blockUs <= 0) return;
    this.#driving = true;
    // After what the thread has queued: the sends that follow a receive, in the same turn or after awaits, go first.
    // A microtask that queues a tick runs the drive once the microtask queue is empty, without an event loop turn
    // (one costs as much as a waitAsync wake-up); but at least every YIELD_MS the event loop runs (timers, sockets).
    if (performance.now() - this.#loopAt < YIELD_MS) queueMicrotask(this.#afterMicrotasks);
    else setImmediate(this.#fromLoop);
  }

  #afterMicrotasks = (): void => {
    process.nextTick(this.#drive);
  };

  #fromLoop = (): void => {
    this.#loopAt = performance.now();
    this.#drive();
  };

  /**
   * The fast wake-up: with operations waiting, poll (spinUs) and then block
   * in Atomics.wait on this rank's bell (blockUs), taking in messages and
   * writing sends each time it rings. Returns to the event loop as soon as
   * anything is answered (and comes back if operations still wait), or when
   * the time is up (the waitAsync watcher and the outboxes carry on).
   */
  #drive = (): void => {
    this.#driving = false;
    if (this.#state !== 'open') return this.#roomed();
    if (!this.#drives()) {
      this.#roomed();
      return this.#arm();
    }
    const ctl = this.#ctl;
    const at = this.#slot * CTRL_WORDS + BELL;
    const sleeping = this.#slot * CTRL_WORDS + SLEEPING;
    const spinEnd = performance.now() + this.#spinUs / 1000;
    const end = spinEnd + this.#blockUs / 1000;
    for (;;) {
      const seen = Atomics.load(ctl, at);
      // Nothing came, and this thread's microtasks have run: early lent messages no receive took go to pooled buffers.
      if (this.#progress() > 0 || this.#unlend() > 0) {
        this.#roomed();
        this.#schedule();
        return;
      }
      if (this.#state !== 'open') return this.#roomed();
      const now = performance.now();
      if (now < spinEnd) {
        // The clock every SPIN_LOADS loads only: a look at it costs several of the bell's, and the bell is what to see soonest.
        for (let k = 1; Atomics.load(ctl, at) === seen; k++) if (k % SPIN_LOADS === 0 && performance.now() >= spinEnd) break;
        continue;
      }
      if (now >= end) {
        this.#patient = false;
        this.#roomed();
        return this.#arm();
      }
      Atomics.add(ctl, sleeping, 1);
      Atomics.wait(ctl, at, seen, end - now);
      Atomics.sub(ctl, sleeping, 1);
    }
  };

  #roomed(): void {
    const w = this.#roomWaiters;
    if (w.length === 0) return;
    this.#roomWaiters = [];
    for (const r of w) r();
  }

  /** Takes messages in and writes waiting sends; how many operations it may have answered. */
  #progress(): number {
    let n = this.#pumpAll();
    for (const o of this.#outboxes) if (o?.waiting) n += o.kick();
    return n;
  }

  /** Whether a peer's channel runs in this very thread (tests, one thread for all ranks): blocking would only stall it. */
  #peerInThisThread(): boolean {
    if (this.#peersApart) return false;
    const ctl = this.#ctl;
    let all = true;
    for (let s = 0; s < this.#ranks.length; s++) {
      if (s === this.#slot) continue;
      const tag = Atomics.load(ctl, s * CTRL_WORDS + ATTACHED);
      if (tag === this.#threadTag) return true;
      if (tag === 0) all = false;
    }
    this.#peersApart = all;
    return false;
  }

  /** Why a receive from `source` with nothing waiting can never match, if it cannot. */
  #unmatched(source: number, op: string): Error | undefined {
    if (source === ANY_SOURCE || source === this.rank) return undefined;
    const slot = this.#slotOf.get(source);
    if (slot === undefined) return this.#notHere(source, op);
    return this.#gone[slot] ? this.#lost(source, op) : undefined;
  }

  #outbox(ring: Ring, bulk: Bulk | undefined, lend: InPlace | undefined, to: number): Outbox {
    const peer = this.#ranks[to]!;
    return new Outbox(ring, bulk, lend, {
      ring: () => this.#bell(to),
      stopped: () => {
        if (this.#state !== 'open') return this.#closed('send', peer);
        return Atomics.load(this.#ctl, to * CTRL_WORDS + CLOSED) !== 0 ? this.#lost(peer, 'send') : undefined;
      },
      room: (ring, bytes) => {
        if (!this.#drives()) return ring.room(bytes);
        this.#schedule();
        return new Promise<void>((r) => this.#roomWaiters.push(r));
      },
      hold: () => {
        this.#hold();
        this.#waits();
      },
      unhold: () => {
        this.#unhold();
        this.#blockable--;
      },
    });
  }

  /**
   * Rings `slot`'s bell; wakes its rank only where it waits: Atomics.notify
   * takes V8's one lock of every wait in the process even with nobody to
   * wake (a cache miss each way per message between two running ranks).
   */
  #bell(slot: number): void {
    const ctl = this.#ctl;
    const at = slot * CTRL_WORDS + BELL;
    Atomics.add(ctl, at, 1);
    if (Atomics.load(ctl, slot * CTRL_WORDS + SLEEPING) !== 0) Atomics.notify(ctl, at);
  }

  /**
   * Keeps the thread alive while `p` waits; with `blocks`, a drive may answer
   * it meanwhile. Returns `p` itself: the bookkeeping runs beside the
   * caller's await (first, as it was attached first), not in a promise
   * between them (a microtask hop more per receive).
   */
  #held1<T>(p: Promise<T>, blocks: boolean): Promise<T> {
    this.#hold();
    if (blocks) this.#waits();
    const done = (): void => {
      this.#unhold();
      if (blocks) this.#blockable--;
    };
    p.then(done, done);
    return p;
  }

  #hold(): void {
    if (this.#held++ === 0) this.#keepAlive.ref();
  }

  #unhold(): void {
    if (--this.#held === 0) this.#keepAlive.unref();
  }

  #closed(op: string, peer: number | undefined): ClosedError {
    return new ClosedError('the channel is closed', { rank: this.rank, peer: peer === ANY_SOURCE ? undefined : peer, op, channel: 'shm' });
  }

  #lost(peer: number, op: string): PeerLostError {
    return new PeerLostError(`rank ${peer} closed its channel`, { rank: this.rank, peer, op, channel: 'shm' });
  }

  #notHere(peer: number, op: string): ChannelError {
    return new ChannelError(`rank ${peer} is not in this process (shared memory reaches ranks ${JSON.stringify(this.#ranks)})`, { rank: this.rank, peer, op, channel: 'shm' });
  }
}

function micros(name: string, v: number, rank: number): number {
  if (!Number.isFinite(v) || v < 0) throw new FmiError('FMI_CONFIG', `${name} must be a number of microseconds >= 0, got ${v}`, { rank, channel: 'shm' });
  return v;
}
