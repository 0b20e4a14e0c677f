import { ChannelError, ClosedError, FmiError, PeerLostError } from '../../errors.js';
import { ANY_SOURCE, type Channel, type Envelope, type Probed, type ProbeRequest, type Received, type RecvRequest } from '../channel.js';
import { Matcher } from '../matcher.js';
import { Inbox } from './inbox.js';
import { Outbox } from './outbox.js';
import { ATTACHED, BELL, CLOSED, CTRL_WORDS, type ShmRegion } from './region.js';
import { Ring } from './ring.js';
import { waitAsync } from './wait-async.js';

export interface ShmChannelOptions {
  job: string;
  rank: number;
  size: number;
  /** The shared memory of the ranks in this process (a worker finds it in its workerData). */
  region: ShmRegion;
  /**
   * Before a receive waits on the event loop, poll for its message this many
   * microseconds (blocking this thread meanwhile): lower latency for a busy
   * core. @default 0, no spinning
   */
  spinUs?: number;
}

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
    const spin = o.spinUs ?? 0;
    if (!Number.isFinite(spin) || spin < 0) throw new FmiError('FMI_CONFIG', `spinUs must be a number of microseconds >= 0, got ${spin}`, { rank: o.rank, channel: 'shm' });
    this.#spinUs = spin;
    const n = region.ranks.length;
    this.#ctl = new Int32Array(region.sab, 0, n * CTRL_WORDS);
    // Two channels reading one slot's rings would steal each other's messages.
    if (Atomics.compareExchange(this.#ctl, this.#slot * CTRL_WORDS + ATTACHED, 0, 1) !== 0) {
      throw new ChannelError(`rank ${o.rank} has joined this job already (a channel is open, or was, for it in this process)`, { rank: o.rank, channel: 'shm' });
    }
    this.#matcher = new Matcher(o.rank, 'shm');
    this.#gone = new Array<boolean>(n).fill(false);
    this.#outboxes = region.ranks.map((_, to) => (to === this.#slot ? undefined : this.#outbox(new Ring(region, this.#slot, to), to)));
    this.#inboxes = region.ranks.map((r, from) => (from === this.#slot ? undefined : new Inbox(new Ring(region, from, this.#slot), this.#matcher, r, o.rank)));
    this.#keepAlive = setInterval(() => {}, 1 << 30);
    this.#keepAlive.unref();
    this.#watch();
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
    if (this.#spinUs > 0 && !this.#matcher.peek(req)) return this.#spinRecv(req);
    return this.#held1(this.#matcher.post(req, () => this.#unmatched(req.source, 'recv')));
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
    if (!this.#matcher.peek(req)) {
      const err = this.#unmatched(req.source, 'probe');
      if (err) return Promise.reject(err);
    }
    return this.#held1(this.#matcher.probe(req));
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    const ctl = this.#ctl;
    Atomics.store(ctl, this.#slot * CTRL_WORDS + CLOSED, 1);
    const err = this.#closed('close', undefined);
    for (const o of this.#outboxes) o?.failAll(err);
    this.#matcher.close(err);
    // Wake everyone: readers see the flag, writers waiting for room in our rings see it, our own watcher stops.
    for (let s = 0; s < this.#ranks.length; s++) this.#bell(s);
    for (const inbox of this.#inboxes) inbox?.wakeWriter();
    clearInterval(this.#keepAlive);
  }

  /** Waits on this rank's doorbell and takes messages in whenever it rings. */
  #watch = (): void => {
    const at = this.#slot * CTRL_WORDS + BELL;
    while (this.#state === 'open') {
      const seen = Atomics.load(this.#ctl, at);
      this.#pumpAll();
      const w = waitAsync(this.#ctl, at, seen);
      if (w.async) {
        void w.value.then(this.#watch);
        return;
      }
    }
  };

  #pumpAll(): void {
    const ctl = this.#ctl;
    for (let s = 0; s < this.#inboxes.length; s++) {
      const inbox = this.#inboxes[s];
      if (inbox === undefined || this.#gone[s]) continue;
      // The flag first: a peer sets it after its last write, so a pump after seeing it takes everything.
      const closed = Atomics.load(ctl, s * CTRL_WORDS + CLOSED) !== 0;
      inbox.pump();
      if (closed) {
        this.#gone[s] = true;
        const peer = this.#ranks[s]!;
        inbox.fail(this.#lost(peer, 'recv'));
        this.#matcher.failSource(peer, this.#lost(peer, 'recv'));
      }
    }
  }

  /** Why a receive from `source` with nothing waiting can never match, if it cannot. */
  #unmatched(source: number, op: string): Error | undefined {
    if (source === ANY_SOURCE || source === this.rank) return undefined;
    const slot = this.#slotOf.get(source);
    if (slot === undefined) return this.#notHere(source, op);
    return this.#gone[slot] ? this.#lost(source, op) : undefined;
  }

  /** Polls for the message for up to spinUs before leaving the wait to the event loop. */
  #spinRecv(req: RecvRequest): Promise<Received> {
    let matched = false;
    const onMatch = req.onMatch;
    const p = this.#held1(
      this.#matcher.post({ ...req, onMatch: (s, t, k) => ((matched = true), onMatch?.(s, t, k)) }, () => this.#unmatched(req.source, 'recv')),
    );
    const at = this.#slot * CTRL_WORDS + BELL;
    const end = performance.now() + this.#spinUs / 1000;
    let seen = Atomics.load(this.#ctl, at);
    while (!matched && this.#state === 'open' && performance.now() < end) {
      const now = Atomics.load(this.#ctl, at);
      if (now !== seen) {
        seen = now;
        this.#pumpAll();
      }
    }
    return p;
  }

  #outbox(ring: Ring, to: number): Outbox {
    const peer = this.#ranks[to]!;
    return new Outbox(ring, {
      ring: () => this.#bell(to),
      stopped: () => {
        if (this.#state !== 'open') return this.#closed('send', peer);
        return Atomics.load(this.#ctl, to * CTRL_WORDS + CLOSED) !== 0 ? this.#lost(peer, 'send') : undefined;
      },
      hold: () => this.#hold(),
      unhold: () => this.#unhold(),
    });
  }

  #bell(slot: number): void {
    const at = slot * CTRL_WORDS + BELL;
    Atomics.add(this.#ctl, at, 1);
    Atomics.notify(this.#ctl, at);
  }

  #held1<T>(p: Promise<T>): Promise<T> {
    this.#hold();
    return p.then(
      (v) => (this.#unhold(), v),
      (e: unknown) => {
        this.#unhold();
        throw e;
      },
    );
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
