import type { Redis } from 'ioredis';
import { PeerLostError, type FmiError, type FmiErrorFields } from '../../errors.js';
import type { Departure } from '../lost-peers.js';
import { bounded, exec, multi, queue, retried, whenReady, type RedisAddress } from './client.js';
import { BlockingConns } from './blocking-conns.js';
import { checkEnvelope, chunkCount, damaged, HEADER_BYTES, newHeader, parseHeader, type FrameScratch } from './frame.js';
import type { JobKeys } from './keys.js';
import { sealed, unsealed, type Seal } from '../direct/integrity.js';
import { raceSignal } from '../../util/race.js';

export interface StoreOptions {
  cmd: Redis;
  address: RedisAddress;
  keys: JobKeys;
  scratch: FrameScratch;
  rank: number;
  size: number;
  ttlSeconds: number;
  chunkBytes: number;
  timeoutMs: number;
  /** How long a lost connection is reconnected (see openClient). */
  reconnectMs: number;
  /** Makes a write that must survive a reconnect (outbox.ts); `write` may be called again. */
  write(write: () => Promise<unknown>): Promise<void>;
  /** Maps a failure to the error callers see (closed, connection lost, or a channel error). */
  error(cause: unknown, op: string): FmiError;
  /** The error for a connection ioredis gave up reconnecting. */
  lost(): FmiError;
  /** Opt-in checks of what is stored (integrity.ts): a trailer after every element. */
  seal?: Seal;
}

/**
 * One read of a value done, counted once per reader (a read made again after
 * a reconnect is not counted twice): the reader that takes the count to zero
 * deletes the value. A value already gone (deleted by its putter) is not
 * recreated. KEYS: reads due, readers, head, chunks; ARGV: rank, TTL.
 */
const READ_DONE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return -2 end
local left = redis.call('DECR', KEYS[1])
if left <= 0 then redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4]) else redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return left
`;

/** A value this rank put: who reads it (undefined: every other rank), and whether the put is done. */
interface Put {
  readers: readonly number[] | undefined;
  done: boolean;
}

/** Values checked per sweep; and how many finished puts make a sweep worth it with nobody gone. */
const SWEEP_BATCH = 4096;
const SWEEP_AT = 1024;
/** Chunks fetched per LRANGE when a large value is read (all ranges go out in one round trip). */
const RANGE_CHUNKS = 16;

/**
 * put/get, the mediated-collective primitive, on Redis lists:
 *
 * - put: one transaction (one round trip) writes the value's head frame
 *   (header + first chunk) as the single element of `kq:<key>`, the remaining
 *   chunks to `kv:<key>`, and `kn:<key>` = readers; each with the TTL.
 * - get: `BLMOVE kq kq LEFT RIGHT 0` on a blocking connection waits for the
 *   head and rotates it back in the same atomic step, so the element stays for
 *   the next reader and every waiter is served by one push: a small value is
 *   one round trip. A large one adds one round trip of LRANGEs for the rest.
 * - After reading, a get counts its read in the background (`kn` down by one,
 *   the rank added to `kr:<key>`, so a read made again after a reconnect
 *   counts once); the reader that takes `kn` to zero deletes the value.
 * - A reader that died never counts its read. So the putter, while it has
 *   values out, has the liveness check watch their readers; once some are
 *   gone, it sweeps (`sweep`): a value whose unread readers are all gone is
 *   deleted, one already deleted is forgotten. With `readers` given as a
 *   count below size - 1 the putter does not know who reads, and such a
 *   value waits for the putter's close (or its TTL) as before. What is left
 *   goes at the putter's close.
 *
 * A key names one value: put again under a key only once every read of the
 * previous value is done (a late count would fall on the new value).
 */
export class RedisStore {
  readonly #o: StoreOptions;
  readonly #blocking: BlockingConns;
  readonly #background = new Set<Promise<void>>();
  readonly #puts = new Map<string, Put>();
  #finished = 0;
  /** Writers that pending gets wait on, with how many gets wait on each. */
  readonly #writers = new Map<number, number>();
  readonly #fields: FmiErrorFields;
  #closedWith: Error | undefined;
  /**
   * One per pending get, aborted at close: a get parked in whenReady on a
   * connection close() disconnected would otherwise wait forever (ioredis
   * emits no 'end' for a connection disconnected between two reconnect attempts).
   */
  readonly #pending = new Set<AbortController>();

  constructor(o: StoreOptions) {
    this.#o = o;
    this.#fields = { rank: o.rank, channel: 'redis' };
    const { address, timeoutMs, reconnectMs, error } = o;
    this.#blocking = new BlockingConns({ address, timeoutMs, reconnectMs, error, fields: this.#fields, closed: () => this.#closedWith });
  }

  /**
   * `readers`: how many ranks read the value, or which (ranks of the job);
   * a count of size - 1 means every other rank.
   */
  async put(key: string, kind: number, payload: Uint8Array, readers: number | readonly number[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#closedWith) throw this.#closedWith;
    const count = typeof readers === 'number' ? readers : readers.length;
    // Nobody will read it: storing it would only leave a key behind until close.
    if (count <= 0) return;
    checkEnvelope({ kind, ctx: 0, tag: 0 }, { ...this.#fields, op: 'put' });
    const entry: Put = { readers: typeof readers === 'number' ? undefined : [...readers], done: false };
    const before = this.#puts.get(key);
    if (before?.done) this.#finished--;
    this.#puts.set(key, entry);
    try {
      await raceSignal(
        this.#o.write(() => this.#write(key, kind, payload, count)),
        signal,
      );
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      throw this.#o.error(err, 'put');
    }
    if (this.#puts.get(key) === entry) {
      entry.done = true;
      this.#finished++;
    }
  }

  /** One transaction: the value's frames, its read counter, TTLs. Written in this tick. */
  #write(key: string, kind: number, payload: Uint8Array, readers: number): Promise<unknown> {
    const { cmd: c, keys, chunkBytes } = this.#o;
    const head = keys.head(key);
    const chunks = keys.chunks(key);
    const ttl = String(this.#o.ttlSeconds);
    const total = payload.byteLength;
    const count = chunkCount(total, chunkBytes);
    multi(c);
    // A put under a key used before replaces it rather than adding a second head.
    queue(c, 'DEL', [head, chunks, keys.readBy(key)]);
    const seal = this.#o.seal;
    for (let i = 1; i < count; i++) {
      const v = view(payload, i * chunkBytes, Math.min(total, (i + 1) * chunkBytes));
      queue(c, 'RPUSH', [chunks, seal ? sealed(seal, `${chunks}#${i}`, v) : v]);
    }
    if (count > 1) queue(c, 'EXPIRE', [chunks, ttl]);
    queue(c, 'SET', [keys.readsDue(key), String(readers), 'EX', ttl]);
    const h = { kind, source: this.#o.rank, ctx: 0, tag: 0, index: 0, count, total };
    const first = this.#o.scratch.frame(h, payload.subarray(0, Math.min(total, chunkBytes)));
    queue(c, 'RPUSH', [head, seal ? sealed(seal, head, first) : first]);
    queue(c, 'EXPIRE', [head, ttl]);
    return exec(c);
  }

  /** The ranks whose departure matters to values this rank has out (none if it has none). */
  readers(): number[] {
    if (this.#finished === 0) return [];
    const out = new Set<number>();
    for (const p of this.#puts.values()) {
      if (!p.done) continue;
      if (!p.readers) return this.#others();
      for (const r of p.readers) out.add(r);
    }
    return [...out];
  }

  /** Whether a sweep is due: a reader of a value out is gone, or many puts are done. */
  sweepDue(gone: ReadonlyMap<number, Departure>): boolean {
    if (this.#finished === 0) return false;
    return this.#finished >= SWEEP_AT || this.readers().some((r) => gone.has(r));
  }

  /**
   * Looks at the values this rank put (one round trip): forgets those
   * already deleted (every reader read them) and deletes those whose unread
   * readers are all in `gone` (they will never read).
   */
  async sweep(gone: ReadonlyMap<number, Departure>): Promise<void> {
    const { cmd: c, keys } = this.#o;
    const batch: [string, Put][] = [];
    for (const e of this.#puts) {
      if (e[1].done) batch.push(e);
      if (batch.length >= SWEEP_BATCH) break;
    }
    if (batch.length === 0) return;
    const p = c.pipeline();
    for (const [k] of batch) p.get(keys.readsDue(k)).smembers(keys.readBy(k));
    const r = (await p.exec()) ?? [];
    const dead: string[] = [];
    batch.forEach(([k, put], i) => {
      const [e1, due] = r[2 * i] ?? [new Error('no reply')];
      const [e2, readBy] = r[2 * i + 1] ?? [new Error('no reply')];
      // Put again since (a new value under the key), or not answered: leave it.
      if (e1 || e2 || this.#puts.get(k) !== put) return;
      if (due !== null) {
        const read = new Set((readBy as string[]).map(Number));
        const unread = (put.readers ?? this.#others()).filter((x) => !read.has(x));
        if (!unread.every((x) => gone.has(x))) return;
        dead.push(keys.head(k), keys.chunks(k), keys.readsDue(k), keys.readBy(k));
      }
      this.#puts.delete(k);
      this.#finished--;
    });
    for (let i = 0; i < dead.length; i += 512) await c.del(dead.slice(i, i + 512));
  }

  #others(): number[] {
    return Array.from({ length: this.#o.size }, (_, i) => i).filter((i) => i !== this.#o.rank);
  }

  /**
   * With `writer`, the liveness check watches that rank while this waits
   * (through writers() and writersGone()), from the moment of the call.
   */
  async get(key: string, signal?: AbortSignal, writer?: number): Promise<{ kind: number; data: Uint8Array }> {
    signal?.throwIfAborted();
    if (this.#closedWith) throw this.#closedWith;
    const watched = writer !== undefined && writer !== this.#o.rank;
    if (watched) this.#writers.set(writer, (this.#writers.get(writer) ?? 0) + 1);
    // Not AbortSignal.any: combined with a long-lived signal, Node keeps every combination alive.
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#pending.add(stop);
    try {
      return await this.#get(key, stop.signal, watched ? writer : undefined);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#pending.delete(stop);
      if (watched) {
        const n = this.#writers.get(writer)! - 1;
        if (n > 0) this.#writers.set(writer, n);
        else this.#writers.delete(writer);
      }
    }
  }

  /** The writers pending gets wait on (their ranks). */
  writers(): number[] {
    return [...this.#writers.keys()];
  }

  /**
   * Some writers are gone (`gone`: every rank found gone so far, and how).
   * A get waiting on one fails with FMI_PEER_LOST if its value is not there
   * (one EXISTS; a value that is there the blocking read returns, so such a
   * get is left alone). Gets not yet blocked are checked on a later call.
   */
  async writersGone(gone: ReadonlyMap<number, Departure>): Promise<void> {
    const c = this.#o.cmd;
    const checks = [...this.#blocking.waits].map(async (w) => {
      const how = w.writer === undefined ? undefined : gone.get(w.writer);
      if (!how) return;
      const n = await c.exists(this.#o.keys.head(w.key));
      if (n !== 0 || !this.#blocking.waits.has(w)) return;
      const what = how === 'closed' ? 'closed its channel' : 'died';
      w.fail(new PeerLostError(`rank ${w.writer} ${what} before writing ${w.key}, which this rank waits for`, { ...this.#fields, peer: w.writer, op: 'get' }));
    });
    await Promise.all(checks);
  }

  /** `signal` aborts with the caller's reason, or with the store's error when it closes. */
  async #get(key: string, signal: AbortSignal, writer: number | undefined): Promise<{ kind: number; data: Uint8Array }> {
    const head = this.#o.keys.head(key);
    const conn = await this.#blocking.acquire(signal);
    if (signal.aborted) {
      this.#blocking.release(conn);
      throw signal.reason;
    }
    let frame: Buffer | undefined;
    while (!frame) {
      frame = await this.#blocking.wait(conn, conn.blmoveBuffer(head, head, 'LEFT', 'RIGHT', 0), signal, key, writer);
      if (frame) break;
      // The connection dropped; the rotation may be made again (it leaves the value as it was).
      try {
        await whenReady(conn, this.#o.lost, signal);
      } catch (err) {
        this.#blocking.drop(conn);
        throw this.#closedWith ?? err;
      }
      if (this.#closedWith) {
        this.#blocking.drop(conn);
        throw this.#closedWith;
      }
    }
    this.#blocking.release(conn);
    const seal = this.#o.seal;
    if (seal) frame = unsealed(seal, head, frame, 'redis');
    const h = newHeader();
    const problem = parseHeader(frame, h);
    if (problem !== undefined) throw damaged(problem, { ...this.#fields, op: 'get' });
    const data = h.count === 1 ? ownBytes(frame) : await this.#readRest(key, frame, h.count, h.total, signal);
    this.#track(this.#readDone(key));
    return { kind: h.kind, data };
  }

  /** Keys this rank put, for deletion at close (a missing key costs nothing to delete). */
  ownedKeys(): string[] {
    const { keys } = this.#o;
    return [...this.#puts.keys()].flatMap((k) => [keys.head(k), keys.chunks(k), keys.readsDue(k), keys.readBy(k)]);
  }

  /** Fails waiting gets with `err`, drops the blocking connections, gives the background work up to `ms` to finish. */
  async close(err: Error, ms: number): Promise<void> {
    this.#closedWith ??= err;
    for (const stop of this.#pending) stop.abort(this.#closedWith);
    this.#blocking.close(this.#closedWith);
    await bounded(Promise.allSettled(this.#background), ms);
  }

  async #readRest(key: string, frame: Buffer, count: number, total: number, signal: AbortSignal): Promise<Uint8Array> {
    const c = this.#o.cmd;
    const chunks = this.#o.keys.chunks(key);
    const ranges = Array.from({ length: Math.ceil((count - 1) / RANGE_CHUNKS) });
    const rangesAt = (i: number) => c.lrangeBuffer(chunks, i, Math.min(count - 2, i + RANGE_CHUNKS - 1));
    let parts: Buffer[][];
    try {
      parts = await retried(c, () => Promise.all(ranges.map((_, j) => rangesAt(j * RANGE_CHUNKS))), this.#o.lost, signal);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw this.#o.error(err, 'get');
    }
    const out = new Uint8Array(total);
    const first = frame.subarray(HEADER_BYTES);
    let offset = first.length;
    let n = 1;
    out.set(first, 0);
    for (const list of parts) {
      for (let b of list) {
        if (this.#o.seal) b = unsealed(this.#o.seal, `${chunks}#${n}`, b, 'redis');
        if (offset + b.length > total) throw damaged(`value ${key} overruns its ${total} bytes`, { ...this.#fields, op: 'get' });
        out.set(b, offset);
        offset += b.length;
        n++;
      }
    }
    if (n !== count || offset !== total) throw damaged(`value ${key}: ${n} of ${count} chunks, ${offset} of ${total} bytes`, { ...this.#fields, op: 'get' });
    return out;
  }

  /** One read done (READ_DONE); safe to make again after a reconnect. */
  async #readDone(key: string): Promise<void> {
    const { cmd: c, keys } = this.#o;
    const args = [keys.readsDue(key), keys.readBy(key), keys.head(key), keys.chunks(key), String(this.#o.rank), String(this.#o.ttlSeconds)];
    await retried(c, () => c.eval(READ_DONE, 4, ...args), this.#o.lost);
  }

  #track(p: Promise<void>): void {
    // A failed cleanup leaves the keys to the putter's close or their TTL.
    const q = p.catch(() => {});
    this.#background.add(q);
    void q.then(() => this.#background.delete(q));
  }

}

/**
 * The payload of a one-frame value. A reply that has an ArrayBuffer of its own
 * is used in place (the payload starts 40 bytes in, so wide TypedArray views
 * stay aligned); a slice of the client's shared read buffer is copied out.
 */
function ownBytes(frame: Buffer): Uint8Array {
  const payload = new Uint8Array(frame.buffer, frame.byteOffset + HEADER_BYTES, frame.byteLength - HEADER_BYTES);
  return frame.byteOffset === 0 && frame.buffer.byteLength === frame.byteLength ? payload : payload.slice();
}

function view(u: Uint8Array, from: number, to: number): Buffer {
  return Buffer.from(u.buffer, u.byteOffset + from, to - from);
}
