import type { Redis } from 'ioredis';
import { ChannelError, ClosedError, FmiError } from '../../errors.js';
import { raceSignal } from '../../util/race.js';
import type { Envelope, ProbeRequest, Probed, Received, RecvRequest, StoreChannel } from '../channel.js';
import { LostPeers } from '../lost-peers.js';
import { Matcher } from '../matcher.js';
import { bounded, channelError, describeAddress, exec, multi, openClient, queue, type RedisAddress } from './client.js';
import { checkEnvelope, chunkCount, FrameScratch, newHeader } from './frame.js';
import { InboxReader } from './inbox-reader.js';
import { jobKeys, type JobKeys } from './keys.js';
import { RedisLiveness } from './liveness.js';
import { RedisStore } from './store.js';

export interface RedisChannelOptions extends RedisAddress {
  job: string;
  rank: number;
  size: number;
  /**
   * Lifetime of every key the channel writes, refreshed on each write. What a
   * crashed rank leaves behind is gone after this long; a message must be read
   * within it. @default 3600
   */
  ttlSeconds?: number;
  /** Payloads above this are split into frames of this size (Redis caps a value at 512 MB). @default 4 MiB */
  chunkBytes?: number;
  /** Give up connecting to the server, and on cleanup at close(), after this long. @default 10000 */
  timeoutMs?: number;
  /**
   * Lifetime of the rank's heartbeat key, renewed every third of it from a
   * worker thread. A rank whose key expired is dead: receives from it fail
   * with FMI_PEER_LOST about 1 to 1.5 times this after it died. 0 turns
   * liveness off (no heartbeat, receives from a dead rank wait for their
   * timeout). @default 3000
   */
  aliveMs?: number;
}

type State = 'open' | 'closing' | 'closed';

/** Frames popped per blocking read: many small ones, few large ones (bounds the reply's memory). */
const MAX_BATCH = 64;
const BATCH_BYTES = 16 * 1024 * 1024;

/**
 * Point-to-point messages and put/get through a Redis server.
 *
 * Each rank owns an inbox list, `fmi:{job}:in:<rank>`. A send is one
 * transaction (one round trip): RPUSH of the message's frames to the
 * destination's inbox and an EXPIRE. The rank reads its inbox with one
 * blocking pop loop (BLMPOP, or BLPOP before Redis 7) on a connection of its
 * own and hands every message to the shared Matcher, which does MPI matching,
 * wildcards, truncation and ordering.
 *
 * Redis does not know when a rank dies: each rank keeps a heartbeat key, and
 * receives waiting on a rank whose heartbeat stopped, or that closed, fail
 * with FMI_PEER_LOST once its last messages are in (liveness.ts); so do gets
 * waiting on a value such a rank was to write and never did. A lost
 * connection to the server fails everything with FMI_CHANNEL.
 */
export class RedisChannel implements StoreChannel {
  readonly name = 'redis';
  readonly rank: number;
  readonly size: number;
  readonly #cmd: Redis;
  readonly #blk: Redis | undefined;
  readonly #keys: JobKeys;
  readonly #inbox: string;
  /** Peers' inbox keys, made on first use. */
  readonly #inboxes: string[] = [];
  readonly #ttl: string;
  readonly #chunkBytes: number;
  readonly #timeoutMs: number;
  readonly #matcher: Matcher;
  readonly #store: RedisStore;
  readonly #scratch = new FrameScratch();
  readonly #header = newHeader();
  readonly #lost: LostPeers;
  readonly #liveness: RedisLiveness | undefined;
  #state: State = 'open';
  #failure: FmiError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(o: Required<Pick<RedisChannelOptions, 'job' | 'rank' | 'size' | 'ttlSeconds' | 'chunkBytes' | 'timeoutMs' | 'aliveMs'>>, address: RedisAddress, cmd: Redis, blk: Redis | undefined) {
    this.rank = o.rank;
    this.size = o.size;
    this.#cmd = cmd;
    this.#blk = blk;
    this.#keys = jobKeys(o.job);
    this.#inbox = this.#keys.inbox(o.rank);
    this.#ttl = String(o.ttlSeconds);
    this.#chunkBytes = o.chunkBytes;
    this.#timeoutMs = o.timeoutMs;
    this.#matcher = new Matcher(o.rank, 'redis');
    this.#lost = new LostPeers(this.#matcher, o.rank, o.size, 'redis');
    this.#store = new RedisStore({
      cmd,
      address,
      keys: this.#keys,
      scratch: this.#scratch,
      rank: o.rank,
      ttlSeconds: o.ttlSeconds,
      chunkBytes: o.chunkBytes,
      timeoutMs: o.timeoutMs,
      error: (cause, op) => this.#error(cause, op),
    });
    // A job of one rank has no peer to lose.
    this.#liveness =
      o.size > 1 && o.aliveMs > 0
        ? new RedisLiveness({ cmd, address, keys: this.#keys, rank: o.rank, size: o.size, aliveMs: o.aliveMs, ttlSeconds: o.ttlSeconds, lost: this.#lost, store: this.#store })
        : undefined;
    const lost = (which: string) => () => {
      if (this.#state === 'open') this.#fail(new ChannelError(`lost the ${which} connection to redis server ${describeAddress(address)}`, { rank: this.rank, channel: 'redis' }));
    };
    cmd.on('end', lost('command'));
    blk?.on('end', lost('inbox'));
  }

  /** Connects to the server (two connections: commands, and the inbox's blocking reads). */
  static async create(opts: RedisChannelOptions): Promise<RedisChannel> {
    // aliveMs: undefined (FMI_ALIVE_MS unset) means the default, not a value.
    const o = { ttlSeconds: 3600, chunkBytes: 4 * 1024 * 1024, timeoutMs: 10_000, ...opts, aliveMs: opts.aliveMs ?? 3000 };
    const config = (what: string) => new FmiError('FMI_CONFIG', what, { rank: o.rank, channel: 'redis' });
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) throw config(`ttlSeconds must be a positive integer, not ${o.ttlSeconds}`);
    if (!Number.isInteger(o.aliveMs) || (o.aliveMs !== 0 && o.aliveMs < 3)) throw config(`aliveMs must be 0 (off) or an integer of at least 3, not ${o.aliveMs}`);
    if (!Number.isInteger(o.chunkBytes) || o.chunkBytes < 1 || o.chunkBytes > 512 * 1024 * 1024 - 64) {
      throw config(`chunkBytes must be an integer in [1, 512 MiB - 64], not ${o.chunkBytes}`);
    }
    const address: RedisAddress = { url: o.url, host: o.host, port: o.port };
    const fields = { rank: o.rank, channel: 'redis', op: 'connect' };
    // A job of one rank has nobody to receive from: no inbox reader.
    const opened = await Promise.allSettled([openClient(address, o.timeoutMs, fields), o.size > 1 ? openClient(address, o.timeoutMs, fields) : undefined]);
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of opened) if (r.status === 'fulfilled') r.value?.disconnect();
      throw failed.reason;
    }
    const [cmd, blk] = opened.map((r) => (r as PromiseFulfilledResult<Redis | undefined>).value);
    const ch = new RedisChannel(o, address, cmd!, blk);
    try {
      await ch.#liveness?.start(o.timeoutMs);
    } catch (err) {
      cmd!.disconnect();
      blk?.disconnect();
      throw channelError(err, 'announcing this rank failed', fields);
    }
    if (blk) void ch.#readInbox(blk);
    return ch;
  }

  async send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#check('send', dest);
    signal?.throwIfAborted();
    if (!(Number.isInteger(dest) && dest >= 0 && dest < this.size)) throw new FmiError('MPI_ERR_RANK', `no rank ${dest} in a job of ${this.size}`, { rank: this.rank, peer: dest, op: 'send', channel: 'redis' });
    checkEnvelope(env, { rank: this.rank, peer: dest, op: 'send', tag: env.tag, channel: 'redis' });
    if (dest === this.rank) {
      // The caller may reuse its buffer as soon as send resolves: keep a copy.
      this.#matcher.deliver(dest, env.ctx, env.tag, env.kind, payload.slice());
      return;
    }
    try {
      await raceSignal(this.#push(dest, env, payload), signal);
    } catch (err) {
      if (signal?.aborted && err === signal.reason) throw err;
      throw this.#error(err, 'send', dest, env.tag);
    }
  }

  recv(req: RecvRequest): Promise<Received> {
    try {
      this.#check('recv', req.source);
    } catch (err) {
      return Promise.reject(err);
    }
    const p = this.#matcher.post(req, () => this.#gone(req.source));
    if (req.source !== this.rank) this.#liveness?.watch();
    return p;
  }

  iprobe(req: ProbeRequest): Probed | undefined {
    return this.#matcher.peek(req);
  }

  probe(req: ProbeRequest): Promise<Probed> {
    try {
      this.#check('probe', req.source);
    } catch (err) {
      return Promise.reject(err);
    }
    const now = this.#matcher.peek(req);
    if (now) return Promise.resolve(now);
    const lost = this.#gone(req.source);
    if (lost) return Promise.reject(lost);
    if (req.source !== this.rank) this.#liveness?.watch();
    return this.#matcher.probe(req);
  }

  put(key: string, kind: number, payload: Uint8Array, readers: number, signal?: AbortSignal): Promise<void> {
    this.#check('put');
    return this.#store.put(key, kind, payload, readers, signal);
  }

  get(key: string, signal?: AbortSignal, writer?: number): Promise<{ kind: number; data: Uint8Array }> {
    this.#check('get');
    const p = this.#store.get(key, signal, writer);
    if (writer !== undefined && writer !== this.rank) this.#liveness?.watch();
    return p;
  }

  /**
   * Fails pending receives and gets with FMI_CLOSED, stops the inbox reader,
   * and deletes this rank's inbox and the values it put. Bounded by
   * `timeoutMs` even when the server does not answer.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    const err = new ClosedError('channel is closed', { rank: this.rank, channel: 'redis' });
    this.#matcher.close(this.#failure ?? err);
    // Closing the blocking connection is the only way to end a blocking pop.
    this.#blk?.disconnect();
    const end = Date.now() + this.#timeoutMs;
    await this.#store.close(err, this.#timeoutMs);
    // After every send this rank made (same connection), so peers still get them before they see it closed.
    if (!this.#failure) await this.#liveness?.close(Math.max(0, end - Date.now()));
    const keys = [this.#inbox, ...this.#store.ownedKeys()];
    const dels: Promise<unknown>[] = [];
    for (let i = 0; i < keys.length; i += 512) dels.push(this.#cmd.del(keys.slice(i, i + 512)));
    await bounded(Promise.all(dels), Math.max(0, end - Date.now()));
    this.#cmd.disconnect();
    this.#state = 'closed';
  }

  /** One round trip: the frames and the TTL refresh in one transaction, written in this tick. */
  #push(dest: number, env: Envelope, payload: Uint8Array): Promise<unknown> {
    const c = this.#cmd;
    const inbox = (this.#inboxes[dest] ??= this.#keys.inbox(dest));
    const total = payload.byteLength;
    const size = this.#chunkBytes;
    const h = this.#header;
    h.kind = env.kind;
    h.source = this.rank;
    h.ctx = env.ctx;
    h.tag = env.tag;
    h.count = chunkCount(total, size);
    h.total = total;
    multi(c);
    for (let i = 0; i < h.count; i++) {
      h.index = i;
      queue(c, 'RPUSH', [inbox, this.#scratch.frame(h, payload.subarray(i * size, Math.min(total, (i + 1) * size)))]);
    }
    queue(c, 'EXPIRE', [inbox, this.#ttl]);
    return exec(c);
  }

  async #readInbox(blk: Redis): Promise<void> {
    const reader = new InboxReader(
      this.#matcher,
      this.rank,
      this.size,
      (err) => this.#fail(err),
      (n) => this.#liveness?.marked(n),
    );
    let count = MAX_BATCH;
    let multiPop = true;
    while (this.#state === 'open' && !this.#failure) {
      let frames: Buffer[];
      try {
        if (multiPop) {
          const r = (await blk.callBuffer('BLMPOP', ['0', '1', this.#inbox, 'LEFT', 'COUNT', String(count)])) as [Buffer, Buffer[]];
          frames = r[1];
        } else {
          frames = [((await blk.blpopBuffer(this.#inbox, 0)) as [Buffer, Buffer])[1]];
        }
      } catch (err) {
        if (multiPop && /unknown command/i.test((err as Error).message)) {
          multiPop = false;
          continue;
        }
        if (this.#state === 'open') this.#fail(channelError(err, 'inbox read failed', { rank: this.rank, channel: 'redis', op: 'recv' }));
        return;
      }
      let bytes = 0;
      for (const f of frames) {
        bytes += f.length;
        reader.frame(f);
      }
      count = Math.max(1, Math.min(MAX_BATCH, Math.floor((BATCH_BYTES * frames.length) / Math.max(1, bytes))));
    }
  }

  /** The server is gone or the inbox holds garbage: everything pending and later fails with `err`. */
  #fail(err: FmiError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#liveness?.stop();
    this.#matcher.close(err);
    void this.#store.close(err, 0);
  }

  /** Why a receive from `source` can never be answered (it left), if so. */
  #gone(source: number): FmiError | undefined {
    return source === this.rank ? undefined : this.#lost.get(source);
  }

  #check(op: string, peer?: number): void {
    if (this.#state !== 'open') throw new ClosedError('channel is closed', { rank: this.rank, peer, op, channel: 'redis' });
    if (this.#failure) throw this.#failure;
  }

  #error(cause: unknown, op: string, peer?: number, tag?: number): FmiError {
    if (this.#state !== 'open') return new ClosedError('channel is closed', { rank: this.rank, peer, op, tag, channel: 'redis' });
    return this.#failure ?? channelError(cause, `${op} failed`, { rank: this.rank, peer, op, tag, channel: 'redis' });
  }
}
