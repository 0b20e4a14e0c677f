import { ChannelError } from '../../errors.js';
import { Early, ToPosted, type Arrival } from '../arrivals.js';
import type { Matcher } from '../matcher.js';
import type { Bulk } from './bulk.js';
import { FrameHeader, HEADER_BYTES, type Lent } from './frame.js';
import { lentCounts, type InPlace } from './in-place.js';
import { TAIL } from './region.js';
import type { Ring } from './ring.js';

/** Where the payload of a message nobody can take goes: nowhere. */
const DROP: Pick<Arrival, 'sink' | 'complete' | 'fail'> = { sink: () => undefined, complete() {}, fail() {} };

/**
 * The messages of one peer to this rank, taken out of their ring into the
 * matcher as they come (a message nobody waits for yet goes to a pooled
 * buffer, so the writer never waits on this rank's receives).
 */
export class Inbox {
  readonly #ring: Ring;
  readonly #bulk: Bulk | undefined;
  readonly #matcher: Matcher;
  readonly #source: number;
  readonly #rank: number;
  readonly #header = new FrameHeader();
  readonly #step: number;
  #cur: Pick<Arrival, 'sink' | 'complete' | 'fail'> | undefined = undefined;
  #len = 0;
  #off = 0;
  /** The current message's payload is in the staging area. */
  #staged = false;
  /**
   * An early large message left whole in the staging area: the receive that
   * takes it copies it straight out (one copy on this side, not two). It goes
   * to its pooled buffer after all when the area is wanted (the next large
   * message of the pair, a writer waiting for room, the writer gone).
   */
  #parked: Early | undefined = undefined;
  readonly #lend: InPlace | undefined;
  /** Early lent messages (in-place.ts): still in the writer's array, until their receive or until this thread goes idle (unlend()). */
  #lent: { u: Early; at: Lent }[] = [];

  constructor(ring: Ring, bulk: Bulk | undefined, lend: InPlace | undefined, matcher: Matcher, source: number, rank: number) {
    this.#ring = ring;
    this.#bulk = bulk;
    this.#lend = lend;
    this.#matcher = matcher;
    this.#source = source;
    this.#rank = rank;
    this.#step = Math.max(HEADER_BYTES, ring.capacity >>> 2);
  }

  /**
   * Takes in what the writer has published; frees ring room a quarter at a
   * time. Returns how many messages began or ended (a probe or a receive may
   * be answered).
   */
  pump(): number {
    const ring = this.#ring;
    let taken = 0;
    let events = 0;
    if (this.#parked !== undefined && this.#bulk!.writerWaits()) events += this.#unpark();
    for (;;) {
      if (this.#cur === undefined) {
        if (ring.available() < HEADER_BYTES) break;
        const h = this.#header;
        ring.read(h.bytes, HEADER_BYTES);
        taken += HEADER_BYTES;
        this.#len = h.length;
        this.#off = 0;
        const at = h.bulk;
        this.#staged = at !== undefined;
        if (at !== undefined) {
          if (this.#parked !== undefined) events += this.#unpark();
          this.#bulk!.begin(at);
        }
        events++;
        try {
          this.#cur = this.#matcher.arrive(this.#source, h.ctx, h.tag, h.kind, this.#len);
        } catch (cause) {
          // No memory for an early message: it is dropped, and receives from its source fail.
          this.#cur = DROP;
          const err = new ChannelError(`dropped a message of ${this.#len} bytes: ${(cause as Error).message}`, { rank: this.#rank, peer: this.#source, tag: h.tag, channel: 'shm', cause });
          this.#matcher.failSource(this.#source, err);
        }
        if (this.#staged && this.#park()) {
          this.#cur = undefined;
          continue;
        }
        const lent = h.lent;
        if (lent !== undefined) {
          const a = this.#cur;
          this.#cur = undefined;
          events += this.#borrow(a, lent);
          continue;
        }
      }
      if (this.#staged) {
        if (!this.#drain()) break;
      } else if (this.#off < this.#len) {
        const n = Math.min(ring.available(), this.#len - this.#off, this.#step);
        if (n === 0) break;
        const sink = this.#cur.sink();
        ring.read(sink, n, this.#off);
        this.#off += n;
        taken += n;
        if (taken >= this.#step) {
          ring.release();
          taken = 0;
        }
      }
      if (this.#off === this.#len) {
        const a = this.#cur;
        this.#cur = undefined;
        a.complete();
        events++;
      }
    }
    if (taken > 0) ring.release();
    return events;
  }

  /**
   * Copies the current message's payload out of the staging area as the
   * writer copies it in, following its copy while one is under way; true
   * once all of it is out, false when the writer paused (the staging area was
   * full: it rings this rank's bell when it goes on).
   */
  #drain(): boolean {
    const bulk = this.#bulk!;
    while (this.#off < this.#len) {
      // The flag before the head: a copy seen ended has every byte of it published.
      const writing = bulk.writing();
      const n = Math.min(bulk.available(), this.#len - this.#off);
      if (n > 0) {
        const sink = this.#cur!.sink();
        bulk.read(sink?.subarray(this.#off, this.#off + n), n);
        this.#off += n;
        bulk.release();
      } else if (writing) bulk.awaitChunk();
      else return false;
    }
    return true;
  }

  /**
   * Leaves the current message, an early one, in the staging area when all
   * of it is there already. Not while the writer still copies it in: copying
   * out behind it (into a pooled buffer, at the same time on the other core)
   * and then into the receive's buffer (an ArrayBuffer copy, twice as fast as
   * one from shared memory) took less time than one copy after the other
   * (bench/shm-early.mjs).
   */
  #park(): boolean {
    const u = this.#cur;
    if (!(u instanceof Early)) return false;
    const bulk = this.#bulk!;
    // The flag before the head, as in #drain().
    if (bulk.writing() || bulk.available() < this.#len || bulk.writerWaits()) return false;
    this.#parked = u;
    u.onTaken = this.#taken;
    return true;
  }

  /** A receive took the parked message: its payload goes straight into the receive's buffer. */
  #taken = (): void => {
    const u = this.#parked!;
    this.#parked = undefined;
    u.onTaken = undefined;
    const a = new ToPosted(u.core, u.taker!, u.source, u.ctx, u.tag, u.kind, u.length);
    this.#bulk!.read(a.sink(), u.length);
    this.#bulk!.release();
    u.core.pool.give(u.data);
    a.complete();
  };

  /** The parked message goes to its pooled buffer after all: the staging area is wanted. */
  #unpark(): number {
    const u = this.#parked!;
    this.#parked = undefined;
    u.onTaken = undefined;
    this.#bulk!.read(u.sink(), u.length);
    this.#bulk!.release();
    u.complete();
    return 1;
  }

  /** A lent message came: copied now into its receive's buffer, or left in the writer's array while no receive takes it. */
  #borrow(a: Pick<Arrival, 'sink' | 'complete' | 'fail'>, at: Lent): number {
    if (a instanceof Early) {
      const entry = { u: a, at };
      this.#lent.push(entry);
      a.onTaken = () => {
        this.#lent.splice(this.#lent.indexOf(entry), 1);
        a.onTaken = undefined;
        const t = new ToPosted(a.core, a.taker!, a.source, a.ctx, a.tag, a.kind, a.length);
        this.#lend!.take(at.addr, a.length, t.sink(), at.id);
        lentCounts.direct++;
        a.core.pool.give(a.data);
        t.complete();
      };
      return 0;
    }
    const dst = a.sink();
    this.#lend!.take(at.addr, dst?.byteLength ?? 0, dst, at.id);
    if (dst !== undefined) lentCounts.direct++;
    a.complete();
    return 1;
  }

  /** Whether early lent messages wait in the writer's array. */
  get lending(): boolean {
    return this.#lent.length > 0;
  }

  /** The early lent messages go to their pooled buffers (the writer's sends complete); how many. */
  unlend(): number {
    const lent = this.#lent;
    this.#lent = [];
    for (const { u, at } of lent) {
      u.onTaken = undefined;
      this.#lend!.take(at.addr, u.length, u.sink(), at.id);
      lentCounts.pooled++;
      u.complete();
    }
    return lent.length;
  }

  /** This side closes: a writer waiting for room wakes and sees it. */
  wakeWriter(): void {
    Atomics.notify(this.#ring.ctrl, TAIL);
    this.#bulk?.wakeWriter();
  }

  /** The writer is gone: a message it left half-written fails. */
  fail(err: Error): void {
    // A message it wrote whole is still for a receive to take.
    if (this.#parked !== undefined) this.#unpark();
    this.unlend();
    const a = this.#cur;
    this.#cur = undefined;
    a?.fail(err);
  }
}
