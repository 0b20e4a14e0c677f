import type { Redis } from 'ioredis';
import { ChannelError, ClosedError, FmiError } from '../../errors.js';
import { raceSignal } from '../../util/race.js';
import type { Envelope, ProbeRequest, Probed, Received, RecvRequest, StoreChannel } from '../channel.js';
import { LostPeers } from '../lost-peers.js';
import { Matcher } from '../matcher.js';
import { bounded, channelError, describeAddress, exec, multi, openClient, queue, retried, type RedisAddress } from './client.js';
import { checkEnvelope, chunkCount, FrameScratch, newHeader } from './frame.js';
import { readInbox } from './inbox-loop.js';
import { InboxReader } from './inbox-reader.js';
import { Outbox } from './outbox.js';
import { jobKeys, type JobKeys } from './keys.js';
import { RedisLiveness } from './liveness.js';
import { RedisStore } from './store.js';
import { sealFor, sealed, unsealed, type Seal } from '../direct/integrity.js';
import type { RedisChannelOptions } from './options.js';

export type { RedisChannelOptions } from './options.js';

type State = 'open' | 'closing' | 'closed';

/**
 * Point-to-point messages and put/get through a Redis server.
 *
 * Each rank owns an inbox list, `fmi:{job}:in:<rank>`. A send is one
 * transaction (one round trip): RPUSH of the message's frames to the
 * destination's inbox and an EXPIRE. The rank reads its inbox with one
 * loop of blocking moves into a processing list (inbox-loop.ts) on a
 * connection of its own and hands every message to the shared Matcher, which does MPI matching,
 * wildcards, truncation and ordering.
 *
 * A lost connection is reconnected for up to `reconnectMs`: sends not
 * answered are made again in order (outbox.ts) and the reader drops copies
 * by sequence number; the inbox is read as a reliable queue (inbox-loop.ts).
 * After a reconnect the rank checks that the server still has its state key:
 * a server that restarted without its data fails the channel.
 *
 * Redis does not know when a rank dies: each rank keeps a heartbeat key, and
 * receives waiting on a rank whose heartbeat stopped, or that closed, fail
 * with FMI_PEER_LOST once its last messages are in (liveness.ts); so do gets
 * waiting on a value such a rank was to write and never did. A connection
 * that stays lost fails everything with FMI_CHANNEL.
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
  readonly #seal: Seal | undefined;
  readonly #header = newHeader();
  readonly #lost: LostPeers;
  readonly #liveness: RedisLiveness | undefined;
  readonly #outbox: Outbox;
  /** Per destination: the sequence number of the last message sent to it. */
  readonly #seq: Uint32Array;
  readonly #address: RedisAddress;
  readonly #reconnectMs: number;
  #state: State = 'open';
  #failure: FmiError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    o: Required<Pick<RedisChannelOptions, 'job' | 'rank' | 'size' | 'ttlSeconds' | 'chunkBytes' | 'timeoutMs' | 'aliveMs' | 'reconnectMs'>>,
    address: RedisAddress,
    cmd: Redis,
    blk: Redis | undefined,
    seal: Seal | undefined,
  ) {
    this.#seal = seal;
    this.rank = o.rank;
    this.size = o.size;
    this.#address = address;
    this.#reconnectMs = o.reconnectMs;
    this.#seq = new Uint32Array(o.size);
    this.#outbox = new Outbox(cmd);
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
      size: o.size,
      ttlSeconds: o.ttlSeconds,
      chunkBytes: o.chunkBytes,
      timeoutMs: o.timeoutMs,
      reconnectMs: o.reconnectMs,
      write: (w) => this.#outbox.push(w),
      error: (cause, op) => this.#error(cause, op),
      lost: () => this.#gaveUp(),
      seal,
    });
    // A job of one rank has no peer to lose.
    this.#liveness =
      o.size > 1 && o.aliveMs > 0
        ? new RedisLiveness({ cmd, address, keys: this.#keys, rank: o.rank, size: o.size, aliveMs: o.aliveMs, ttlSeconds: o.ttlSeconds, lost: this.#lost, store: this.#store })
        : undefined;
    const lost = (which: string) => () => {
      if (this.#state === 'open') this.#fail(this.#gaveUp(which));
    };
    cmd.on('end', lost('command'));
    blk?.on('end', lost('inbox'));
    // Only reconnects: the first connect was before this.
    cmd.on('ready', () => void this.#reconnected());
  }

  /** Connects to the server (two connections: commands, and the inbox's blocking reads). */
  static async create(opts: RedisChannelOptions): Promise<RedisChannel> {
    // aliveMs: undefined (FMI_ALIVE_MS unset) means the default, not a value.
    const o = { ttlSeconds: 3600, chunkBytes: 4 * 1024 * 1024, timeoutMs: 10_000, ...opts, aliveMs: opts.aliveMs ?? 3000, reconnectMs: opts.reconnectMs ?? 10_000 };
    const config = (what: string) => new FmiError('FMI_CONFIG', what, { rank: o.rank, channel: 'redis' });
    if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) throw config(`ttlSeconds must be a positive integer, not ${o.ttlSeconds}`);
    if (!Number.isInteger(o.aliveMs) || (o.aliveMs !== 0 && o.aliveMs < 3)) throw config(`aliveMs must be 0 (off) or an integer of at least 3, not ${o.aliveMs}`);
    if (!Number.isInteger(o.reconnectMs) || o.reconnectMs < 0) throw config(`reconnectMs must be a whole number of ms (0: never reconnect), not ${o.reconnectMs}`);
    if (!Number.isInteger(o.chunkBytes) || o.chunkBytes < 1 || o.chunkBytes > 512 * 1024 * 1024 - 64) {
      throw config(`chunkBytes must be an integer in [1, 512 MiB - 64], not ${o.chunkBytes}`);
    }
    const seal = sealFor(o.integrity ?? 'none', o.job, o.secret, o.rank, 'redis');
    const address: RedisAddress = { url: o.url, host: o.host, port: o.port };
    const fields = { rank: o.rank, channel: 'redis', op: 'connect' };
    // A job of one rank has nobody to receive from: no inbox reader.
    const open = () => openClient(address, o.timeoutMs, fields, o.reconnectMs);
    const opened = await Promise.allSettled([open(), o.size > 1 ? open() : undefined]);
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of opened) if (r.status === 'fulfilled') r.value?.disconnect();
      throw failed.reason;
    }
    const [cmd, blk] = opened.map((r) => (r as PromiseFulfilledResult<Redis | undefined>).value);
    const ch = new RedisChannel(o, address, cmd!, blk, seal);
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

  /** The error once a connection could not be reconnected within reconnectMs. */
  #gaveUp(which = 'a'): FmiError {
    const within = this.#reconnectMs > 0 ? `could not reconnect within ${this.#reconnectMs} ms` : 'reconnectMs is 0';
    return new ChannelError(`lost ${which} connection to redis server ${describeAddress(this.#address)} (${within})`, { rank: this.rank, channel: 'redis' });
  }

  /**
   * The command connection is back. If this rank's state key is gone, the
   * server lost the job's data (restarted without persistence): nothing on it
   * can be trusted, the channel fails. Else the writes cut off are made again.
   * Without liveness there is no state key, and only a gap in a sender's
   * sequence numbers shows a loss.
   */
  async #reconnected(): Promise<void> {
    if (this.#state !== 'open' || this.#failure) return;
    this.#liveness?.reconnected();
    if (this.#liveness) {
      let n: number;
      try {
        n = await this.#cmd.exists(this.#keys.state(this.rank));
      } catch {
        return; // lost again: the next reconnect checks
      }
      if (n === 0) {
        const msg = `the redis server ${describeAddress(this.#address)} lost this job's data (it restarted without persistence?): the state key of rank ${this.rank} is gone`;
        return this.#fail(new ChannelError(msg, { rank: this.rank, channel: 'redis' }));
      }
    }
    if (this.#state === 'open' && !this.#failure) this.#outbox.resume();
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

  cancel(ctx: number, source: number, err: Error): void {
    this.#matcher.cancel(ctx, source, err);
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

  /**
   * `readers` may also name the ranks that read the value: then the values
   * only dead ranks have left to read are deleted before this rank closes
   * (with a count, only a count of size - 1, every other rank, allows that).
   */
  put(key: string, kind: number, payload: Uint8Array, readers: number | readonly number[], signal?: AbortSignal): Promise<void> {
    this.#check('put');
    const p = this.#store.put(key, kind, payload, readers, signal);
    // Its readers are watched while it is out (a dead one would never count its read).
    if (this.#liveness) p.then(() => this.#liveness?.watch(), () => {});
    return p;
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
    this.#outbox.fail(this.#failure ?? err);
    // Closing the blocking connection is the only way to end a blocking pop.
    this.#blk?.disconnect();
    const end = Date.now() + this.#timeoutMs;
    await this.#store.close(err, this.#timeoutMs);
    // After every send this rank made (same connection), so peers still get them before they see it closed.
    if (!this.#failure) await this.#liveness?.close(Math.max(0, end - Date.now()));
    const keys = [this.#inbox, this.#keys.processing(this.rank), ...this.#store.ownedKeys()];
    const dels: Promise<unknown>[] = [];
    const lost = () => this.#gaveUp();
    for (let i = 0; i < keys.length; i += 512) dels.push(retried(this.#cmd, () => this.#cmd.del(keys.slice(i, i + 512)), lost));
    await bounded(Promise.all(dels), Math.max(0, end - Date.now()));
    this.#cmd.disconnect();
    this.#state = 'closed';
  }

  /**
   * Numbers the message and hands it to the outbox, which writes it now (or
   * after a reconnect), and again if a reconnect cut its reply off.
   */
  #push(dest: number, env: Envelope, payload: Uint8Array): Promise<void> {
    const seq = (this.#seq[dest] = (this.#seq[dest]! + 1) >>> 0);
    const e = { kind: env.kind, ctx: env.ctx, tag: env.tag };
    return this.#outbox.push(() => this.#write(dest, e, payload, seq));
  }

  /** One round trip: the frames and the TTL refresh in one transaction, written in this tick. */
  #write(dest: number, env: Pick<Envelope, 'kind' | 'ctx' | 'tag'>, payload: Uint8Array, seq: number): Promise<unknown> {
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
    h.seq = seq;
    multi(c);
    for (let i = 0; i < h.count; i++) {
      h.index = i;
      const f = this.#scratch.frame(h, payload.subarray(i * size, Math.min(total, (i + 1) * size)));
      queue(c, 'RPUSH', [inbox, this.#seal ? sealed(this.#seal, inbox, f) : f]);
    }
    queue(c, 'EXPIRE', [inbox, this.#ttl]);
    return exec(c);
  }

  #readInbox(blk: Redis): Promise<void> {
    const reader = new InboxReader(
      this.#matcher,
      this.rank,
      this.size,
      (err) => this.#fail(err),
      (n) => this.#liveness?.marked(n),
      this.#seal && ((b) => unsealed(this.#seal!, this.#inbox, b, 'redis')),
    );
    return readInbox({
      blk,
      inbox: this.#inbox,
      processing: this.#keys.processing(this.rank),
      ttlSeconds: Number(this.#ttl),
      rank: this.rank,
      reader,
      stopped: () => this.#state !== 'open' || this.#failure !== undefined,
      lost: () => this.#gaveUp('the inbox'),
      fail: (err) => {
        if (this.#state === 'open') this.#fail(err);
      },
    });
  }

  /** The server is gone or the inbox holds garbage: everything pending and later fails with `err`. */
  #fail(err: FmiError): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#liveness?.stop();
    this.#matcher.close(err);
    this.#outbox.fail(err);
    this.#blk?.disconnect();
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
