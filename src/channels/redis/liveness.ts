import type { Redis } from 'ioredis';
import { startHeartbeat, type Heartbeat } from '../heartbeat.js';
import type { Departure, LostPeers } from '../lost-peers.js';
import { bounded, exec, multi, queue, type RedisAddress } from './client.js';
import { markFrame } from './frame.js';
import type { JobKeys } from './keys.js';

/**
 * `st:<rank>` as a launcher writes it for a rank that will never come (it
 * could not be started, or its invocation failed): its peers take it for
 * dead at their next check instead of waiting for it to start.
 */
export const GONE_STATE = 'gone';

export interface LivenessOptions {
  /** The non-blocking connection (the inbox's is blocked in BLMOVE). */
  cmd: Redis;
  address: RedisAddress;
  keys: JobKeys;
  rank: number;
  size: number;
  /** Lifetime of the heartbeat key; renewed every third of it. */
  aliveMs: number;
  ttlSeconds: number;
  lost: LostPeers;
  /**
   * Gets waiting for values, with their writers, and values this rank put,
   * with their readers: those are watched too (store.ts).
   */
  store?: {
    writers(): number[];
    writersGone(gone: ReadonlyMap<number, Departure>): Promise<void>;
    readers(): number[];
    sweepDue(gone: ReadonlyMap<number, Departure>): boolean;
    sweep(gone: ReadonlyMap<number, Departure>): Promise<void>;
  };
}

/**
 * Which peers of a Redis job are gone.
 *
 * Each rank keeps `alive:<rank>` (TTL `aliveMs`, renewed every aliveMs/3
 * from the heartbeat worker, so a busy event loop does not stop it) and
 * `st:<rank>`: 'started' from create() on, 'closed' once close() has sent
 * everything. While receives or probes wait, every aliveMs/2 one MGET reads
 * both keys of each watched peer: 'closed', or 'started' with no heartbeat,
 * means gone; so does 'gone', written by the job's launcher (GONE_STATE); no
 * state at all means not started yet (keep waiting).
 *
 * A gone peer may still have messages on their way to us: in our inbox list,
 * or popped by the blocking read and not yet handed to the matcher (its reply
 * and the MGET's travel on different connections). So the rank first pushes
 * a marker frame to its own inbox; the peer's messages were all pushed before
 * it died or closed, hence before the marker, and once the reader reaches the
 * marker they are all in the matcher. Only then do its receives fail.
 *
 * Gets (put/get values) that name their writer have it watched the same way;
 * once it is gone, a get whose value is not there fails at once (the value
 * cannot come any more; one that is there, the blocking read returns). The
 * readers of values this rank put are watched while it has some out: the
 * store deletes values only gone ranks have left to read.
 *
 * After a reconnect (a server restart) every heartbeat key may have expired
 * meanwhile: for `aliveMs` + 1 s no peer is taken for dead for lack of one,
 * long enough for the heartbeat workers to reconnect and beat again.
 */
export class RedisLiveness {
  readonly #o: LivenessOptions;
  readonly #suspects = new Map<number, { how: Departure; mark: number; detail: string }>();
  /** Every peer found gone, and how (gone is for good). */
  readonly #gone = new Map<number, Departure>();
  #beat: Heartbeat | undefined;
  /** This thread's beats until the worker's first one. */
  #bridge: NodeJS.Timeout | undefined;
  #timer: NodeJS.Timeout | undefined;
  #marks = 0;
  #stopped = false;
  /** Until then a missing heartbeat proves nothing (see reconnected). */
  #graceUntil = 0;

  constructor(o: LivenessOptions) {
    this.#o = o;
  }

  /**
   * Marks this rank started with a first heartbeat of its own (one round
   * trip), then starts the worker. A worker takes about a second to come up
   * cold (a thread, ioredis, a connection): until its first beat this thread
   * renews the key, so neither does a job wait for the worker nor is a rank
   * whose worker is slow to start taken for dead.
   */
  async start(ms: number): Promise<void> {
    const { cmd: c, keys, rank, aliveMs, ttlSeconds, address } = this.#o;
    const periodMs = Math.max(1, Math.floor(aliveMs / 3));
    multi(c);
    queue(c, 'SET', [keys.alive(rank), '1', 'PX', String(aliveMs)]);
    queue(c, 'SET', [keys.state(rank), 'started', 'EX', String(ttlSeconds)]);
    await exec(c);
    // Until the worker's first beat, however late (or never: then this thread keeps beating, as well as a busy loop lets it).
    this.#bridge = setInterval(() => void c.set(keys.alive(rank), '1', 'PX', aliveMs).catch(() => {}), periodMs);
    this.#bridge.unref();
    const spec = { kind: 'redis' as const, url: address.url, host: address.host, port: address.port, key: keys.alive(rank), ttlMs: aliveMs, periodMs, stateKey: keys.state(rank), stateTtlSeconds: ttlSeconds };
    this.#beat = startHeartbeat(spec, ms, () => clearInterval(this.#bridge));
  }

  /** The command connection came back: give peers' heartbeats time to come back too. */
  reconnected(): void {
    this.#graceUntil = Date.now() + this.#o.aliveMs + 1000;
  }

  /** A receive, probe or get is waiting, or a value is out: check its peers at the heartbeat's pace until none is. */
  watch(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), this.#o.aliveMs / 2);
    this.#timer.unref();
  }

  /** The inbox reader reached marker `n`: every suspect marked up to it has had all its messages delivered. */
  marked(n: number): void {
    for (const [source, s] of this.#suspects) {
      if (s.mark > n) continue;
      this.#suspects.delete(source);
      this.#o.lost.confirm(source, s.how, s.detail);
    }
  }

  /** Stops checking and beating, without telling anyone (the channel failed: peers will see this rank die). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#bridge);
    void this.#beat?.stop(0);
  }

  /**
   * Stops the heartbeat (its last write answered first, so it cannot land
   * after the rest), then marks this rank closed, on the command connection,
   * after every message this rank sent. The last rank to close removes every
   * rank's state, and the inbox of ranks that died.
   */
  async close(ms: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearInterval(this.#bridge);
    const end = Date.now() + ms;
    await this.#beat?.stop(ms);
    const { cmd: c, keys, rank, size, ttlSeconds } = this.#o;
    const ranks = Array.from({ length: size }, (_, r) => r);
    const states = ranks.map((r) => keys.state(r));
    const work = (async () => {
      multi(c);
      queue(c, 'SET', [keys.state(rank), 'closed', 'EX', String(ttlSeconds)]);
      queue(c, 'DEL', [keys.alive(rank)]);
      queue(c, 'MGET', [...states, ...ranks.map((r) => keys.alive(r))]);
      const r = await exec(c);
      const got = r[2] as (string | null)[];
      // Every rank closed, or died (started, no heartbeat): the last one out also takes the dead ranks' keys.
      const dead = ranks.filter((i) => (got[i] === 'started' && got[size + i] === null) || got[i] === GONE_STATE);
      if (ranks.every((i) => got[i] === 'closed' || dead.includes(i))) {
        await c.del([...states, ...dead.flatMap((d) => [keys.inbox(d), keys.processing(d)])]);
      }
    })();
    await bounded(work, Math.max(0, end - Date.now()));
  }

  async #tick(): Promise<void> {
    const store = this.#o.store;
    const writers = store?.writers() ?? [];
    const readers = store?.readers() ?? [];
    const watched = [...new Set([...this.#o.lost.watched(), ...writers, ...readers])].filter((s) => !this.#suspects.has(s) && !this.#gone.has(s));
    if (watched.length === 0 && this.#suspects.size === 0 && writers.length === 0 && readers.length === 0) {
      this.#timer = undefined;
      return;
    }
    try {
      if (watched.length > 0) await this.#check(watched);
      if (!this.#stopped && writers.some((s) => this.#gone.has(s))) await store!.writersGone(this.#gone);
      if (!this.#stopped && store?.sweepDue(this.#gone)) await store.sweep(this.#gone);
    } catch {
      // A failed command fails the channel through its own path (or is tried again next time); nothing to decide here.
    }
    this.#timer = undefined;
    if (!this.#stopped) this.watch();
  }

  async #check(watched: number[]): Promise<void> {
    const { cmd: c, keys, rank, ttlSeconds } = this.#o;
    const got = await c.mget(watched.flatMap((s) => [keys.alive(s), keys.state(s)]));
    if (this.#stopped) return;
    const gone: number[] = [];
    const grace = Date.now() < this.#graceUntil;
    watched.forEach((s, i) => {
      const alive = got[2 * i];
      const state = got[2 * i + 1];
      const givenUp = state === GONE_STATE;
      const how: Departure | undefined = state === 'closed' ? 'closed' : givenUp || (state === 'started' && alive === null && !grace) ? 'died' : undefined;
      if (how) this.#gone.set(s, how);
      if (!how || this.#o.lost.has(s)) return;
      const detail = givenUp ? 'its launcher gave it up: it could not be started, or its invocation failed' : `its heartbeat key expired; no heartbeat for ${this.#o.aliveMs} ms`;
      this.#suspects.set(s, { how, mark: this.#marks + 1, detail });
      gone.push(s);
    });
    if (gone.length === 0) return;
    const inbox = keys.inbox(rank);
    multi(c);
    queue(c, 'RPUSH', [inbox, markFrame(rank, ++this.#marks)]);
    queue(c, 'EXPIRE', [inbox, String(ttlSeconds)]);
    try {
      await exec(c);
    } catch (err) {
      // No marker, no confirmation: suspect them again at the next check.
      for (const s of gone) {
        this.#suspects.delete(s);
        this.#gone.delete(s);
      }
      throw err;
    }
  }
}
