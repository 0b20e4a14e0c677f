/** The S3 channel: messages and shared values as objects in a bucket. How it works (keys, polling, costs, liveness, close): README.md here. */
import { setMaxListeners } from 'node:events';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ChannelError, ClosedError, FmiError, PeerLostError, type FmiErrorFields } from '../../errors.js';
import type { Envelope, Probed, ProbeRequest, Received, RecvRequest, StoreChannel } from '../channel.js';
import { LostPeers } from '../lost-peers.js';
import { Matcher } from '../matcher.js';
import { Backoff, pollPolicy, sleep, type PollPolicy } from './backoff.js';
import { checkBucket, DEFAULT_PREFIX, DEFAULT_TIMEOUT_MS, httpStatus, makeClient, s3Error, zeroCounts, type S3Location, type S3RequestCounts } from './client.js';
import { deleteKeys, deletePrefix } from './clean.js';
import { DeleteQueue } from './delete-queue.js';
import { S3Liveness, type Gone } from './liveness.js';
import { Receiver } from './receiver.js';
import { SendBuffers } from './send-buffers.js';
import { sealFor, unsealed, type IntegrityOptions, type Seal } from '../direct/integrity.js';
import { checkJob, checkTrailerFlags, FLAG_SKIP, HEADER_BYTES, Keys, readHeader } from './wire.js';

export interface S3ChannelOptions extends S3Location, IntegrityOptions {
  job: string;
  rank: number;
  size: number;
  /** How waiting ranks poll. @default { initialMs: 5, maxMs: 200, factor: 1.5, jitter: 0.2 } */
  poll?: Partial<PollPolicy>;
  /**
   * Period of the rank's heartbeat PUT (from a worker thread). A rank silent
   * for 3 periods is dead: receives from it fail with FMI_PEER_LOST 3 to 5
   * periods after it died. Costs 60000 / aliveMs PUTs a minute per rank, and
   * up to as many HEADs per source someone waits on. 0 turns liveness off.
   * @default 10000
   */
  aliveMs?: number;
}

type State = 'open' | 'closing' | 'closed';

const DEFAULT_ALIVE_MS = 10_000;

export class S3Channel implements StoreChannel {
  readonly name = 's3';
  readonly rank: number;
  readonly size: number;
  /** Requests sent so far (live; see requestCounts() for a snapshot). */
  readonly requests: Readonly<S3RequestCounts>;
  readonly #counts: S3RequestCounts;
  readonly #bucket: string;
  readonly #policy: PollPolicy;
  readonly #timeoutMs: number;
  readonly #client: S3Client;
  readonly #keys: Keys;
  readonly #matcher: Matcher;
  readonly #sendSeq: number[];
  /** Per destination: why messages to it can no longer be delivered in order. */
  readonly #broken: (Error | undefined)[];
  readonly #receiver: Receiver;
  readonly #written = new Set<string>();
  readonly #background = new Set<Promise<unknown>>();
  readonly #life = new AbortController();
  /** Requests under a caller's signal: aborted as well when the channel closes. */
  readonly #linked = new Set<AbortController>();
  readonly #buffers = new SendBuffers();
  readonly #seal: Seal | undefined;
  readonly #deletes: DeleteQueue;
  readonly #lost: LostPeers;
  readonly #liveness: S3Liveness | undefined;
  #state: State = 'open';
  #closing: Promise<void> | undefined;

  private constructor(o: S3ChannelOptions, client: S3Client, counts: S3RequestCounts, policy: PollPolicy, seal: Seal | undefined) {
    this.rank = o.rank;
    this.#seal = seal;
    this.size = o.size;
    this.#bucket = o.bucket;
    this.#client = client;
    this.#counts = counts;
    this.requests = counts;
    this.#policy = policy;
    this.#timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#keys = new Keys(o.prefix ?? DEFAULT_PREFIX, o.job);
    this.#matcher = new Matcher(o.rank, 's3');
    this.#deletes = new DeleteQueue(client, o.bucket);
    // Every request in flight listens to it: hundreds at a time are normal.
    setMaxListeners(0, this.#life.signal);
    this.#sendSeq = new Array<number>(o.size).fill(0);
    this.#broken = new Array<Error | undefined>(o.size).fill(undefined);
    this.#lost = new LostPeers(this.#matcher, o.rank, o.size, 's3');
    const aliveMs = o.aliveMs ?? DEFAULT_ALIVE_MS;
    // A job of one rank has no peer to lose.
    this.#liveness = o.size > 1 && aliveMs > 0 ? new S3Liveness({ client, location: o, keys: this.#keys, rank: o.rank, size: o.size, aliveMs, counts }) : undefined;
    this.#receiver = new Receiver({
      client,
      bucket: o.bucket,
      keys: this.#keys,
      matcher: this.#matcher,
      deletes: this.#deletes,
      policy,
      rank: o.rank,
      size: o.size,
      signal: this.#life.signal,
      lost: this.#lost,
      liveness: this.#liveness,
      seal,
    });
  }

  /** Checks the options and that the bucket exists (one HEAD request); never creates the bucket. */
  static async create(o: S3ChannelOptions): Promise<S3Channel> {
    checkJob(o.job);
    const fields = { rank: o.rank, channel: 's3' };
    if (!o.bucket) throw new FmiError('FMI_CONFIG', 'the S3 channel needs a bucket', fields);
    if (!Number.isInteger(o.size) || o.size < 1 || !Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.size) {
      throw new FmiError('FMI_CONFIG', `rank ${o.rank} of size ${o.size} is not a rank of the job`, fields);
    }
    const policy = pollPolicy(o.poll);
    const seal = sealFor(o.integrity ?? 'none', o.job, o.secret, o.rank, 's3');
    if (o.aliveMs !== undefined && !(Number.isFinite(o.aliveMs) && o.aliveMs >= 0)) throw new FmiError('FMI_CONFIG', `aliveMs must be 0 (off) or a positive number of ms, not ${o.aliveMs}`, fields);
    const counts = zeroCounts();
    const client = makeClient(o, counts);
    try {
      await checkBucket(client, o, fields);
    } catch (err) {
      client.destroy();
      throw err;
    }
    const ch = new S3Channel(o, client, counts, policy, seal);
    try {
      await ch.#liveness?.start(o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (err) {
      client.destroy();
      throw new ChannelError(`S3: cannot write this rank's first heartbeat: ${(err as Error)?.message ?? err}`, { ...fields, cause: err });
    }
    return ch;
  }

  /** A copy of the request counters: what this rank has cost so far. */
  requestCounts(): S3RequestCounts {
    return { ...this.#counts };
  }

  async send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    this.#check('send', dest);
    signal?.throwIfAborted();
    if (dest === this.rank) {
      // The caller may reuse its buffer as soon as send resolves: keep a copy.
      this.#matcher.deliver(dest, env.ctx, env.tag, env.kind, payload.slice());
      return;
    }
    const broken = this.#broken[dest];
    if (broken) throw new ChannelError(`messages to rank ${dest} can no longer be delivered in order: ${broken.message}`, { rank: this.rank, peer: dest, op: 'send', channel: 's3', cause: broken });
    const key = this.#keys.message(dest, this.rank, this.#sendSeq[dest]!++);
    const body = this.#buffers.frame(env.kind, 0, env.ctx, env.tag, payload, this.#seal, key);
    try {
      await this.#putNew(key, body, signal, { op: 'send', peer: dest, tag: env.tag });
      this.#buffers.release(body);
    } catch (err) {
      if (this.#state === 'open') this.#track(this.#fillGap(dest, key));
      throw err;
    }
  }

  recv(req: RecvRequest): Promise<Received> {
    let p: Promise<Received>;
    try {
      this.#check('recv', req.source);
      const waits = req.source !== this.rank && !this.#matcher.peek(req);
      p = this.#matcher.post(req, () => (waits ? this.#lost.get(req.source) : undefined));
      if (waits) this.#receiver.wait(req.source, p);
    } catch (err) {
      return Promise.reject(err);
    }
    return p;
  }

  cancel(ctx: number, source: number, err: Error): void {
    this.#matcher.cancel(ctx, source, err);
  }

  iprobe(req: ProbeRequest): Probed | undefined {
    const now = this.#matcher.peek(req);
    if (now || this.#state !== 'open' || req.source === this.rank) return now;
    this.#receiver.probed(req.source);
    return undefined;
  }

  probe(req: ProbeRequest): Promise<Probed> {
    let p: Promise<Probed>;
    try {
      this.#check('probe', req.source);
      const waits = req.source !== this.rank && !this.#matcher.peek(req);
      const lost = waits ? this.#lost.get(req.source) : undefined;
      if (lost) return Promise.reject(lost);
      p = this.#matcher.probe(req);
      if (waits) this.#receiver.wait(req.source, p);
    } catch (err) {
      return Promise.reject(err);
    }
    return p;
  }

  async put(key: string, kind: number, payload: Uint8Array, _readers: number, signal?: AbortSignal): Promise<void> {
    this.#check('put');
    signal?.throwIfAborted();
    const name = this.#keys.value(key);
    const body = this.#buffers.frame(kind, 0, 0, 0, payload, this.#seal, name);
    // Noted before the PUT: one abandoned midway may still land, and close() deletes it then.
    this.#written.add(name);
    await this.#putNew(name, body, signal, { op: 'put' });
    this.#buffers.release(body);
  }

  /**
   * Polls for the value with backoff. With `writer`, a miss also asks whether
   * the writer is gone (at most one HEAD per heartbeat period): if so, one
   * more GET, and if the value is still not there the get fails with
   * FMI_PEER_LOST.
   */
  async get(key: string, signal?: AbortSignal, writer?: number): Promise<{ kind: number; data: Uint8Array }> {
    this.#check('get');
    signal?.throwIfAborted();
    const name = this.#keys.value(key);
    const link = this.#link(signal);
    const sig = link.signal;
    const backoff = new Backoff(this.#policy);
    const watch = writer !== undefined && writer !== this.rank && writer >= 0 && writer < this.size ? this.#liveness : undefined;
    let gone: Gone | undefined;
    try {
      for (;;) {
        const started = performance.now();
        const got = await this.#getValue(name, sig);
        if (got) return got;
        if (gone) {
          const what = gone.how === 'closed' ? 'closed its channel' : `died (${gone.detail})`;
          throw new PeerLostError(`rank ${writer} ${what} before writing ${key}, which this rank waits for`, { rank: this.rank, peer: writer, op: 'get', channel: 's3' });
        }
        // Gone now: the value, if it ever came, is there already; one more GET decides.
        gone = await watch?.check(writer!, sig);
        if (gone) continue;
        const wait = started + backoff.next() - performance.now();
        if (wait > 0) await sleep(wait, sig).done;
        else sig.throwIfAborted();
      }
    } finally {
      link.done();
    }
  }

  /** One GET of a value: undefined while it is not there (404). */
  async #getValue(name: string, sig: AbortSignal): Promise<{ kind: number; data: Uint8Array } | undefined> {
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: name }), { abortSignal: sig });
      let bytes = await res.Body!.transformToByteArray();
      if (this.#seal) bytes = unsealed(this.#seal, name, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 's3');
      const h = readHeader(bytes, name);
      checkTrailerFlags(h.flags, this.#seal?.trailerBytes ?? 0, name);
      return { kind: h.kind, data: bytes.subarray(HEADER_BYTES) };
    } catch (err) {
      if (err instanceof FmiError && err.code === 'FMI_PROTOCOL') throw err;
      if (httpStatus(err) !== 404) throw this.#failure(err, `reading ${name}`, sig, { op: 'get' });
      return undefined;
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    const err = new ClosedError('channel is closed', { rank: this.rank, channel: 's3' });
    this.#life.abort(err);
    for (const ac of this.#linked) ac.abort(err);
    this.#matcher.close(err);
    const problems: unknown[] = [];
    try {
      // Poll loops end at the abort; deletes of read messages finish (each request is bounded by timeoutMs).
      await this.#receiver.stopped();
      while (this.#background.size > 0) await Promise.allSettled([...this.#background]);
      await this.#deletes.drain();
      // After this rank's sends: they were answered or aborted above.
      await this.#liveness?.close(this.#timeoutMs).catch((e: unknown) => problems.push(e));
      await deletePrefix(this.#client, this.#bucket, this.#keys.inbox(this.rank)).catch((e: unknown) => problems.push(e));
      await deleteKeys(this.#client, this.#bucket, [...this.#written]).catch((e: unknown) => problems.push(e));
    } finally {
      this.#client.destroy();
      this.#state = 'closed';
    }
    if (problems.length > 0) {
      const first = problems[0] as Error;
      throw new ChannelError(`close could not remove this rank's objects (${first.message}); \`fmi clean --job\` removes them`, { rank: this.rank, op: 'close', channel: 's3', cause: first });
    }
  }

  #check(op: string, peer?: number): void {
    if (this.#state !== 'open') throw new ClosedError('channel is closed', { rank: this.rank, peer, op, channel: 's3' });
  }

  /**
   * A signal that aborts with the caller's `signal` or when the channel
   * closes. (Not AbortSignal.any: combined with the channel's long-lived
   * signal, Node keeps every combination alive.)
   */
  #link(signal: AbortSignal | undefined): { signal: AbortSignal; done(): void } {
    if (!signal) return { signal: this.#life.signal, done: () => {} };
    const ac = new AbortController();
    const onAbort = () => ac.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.#linked.add(ac);
    return {
      signal: ac.signal,
      done: () => {
        signal.removeEventListener('abort', onAbort);
        this.#linked.delete(ac);
      },
    };
  }

  /** Conditional PUT: never replaces an object. */
  async #putNew(key: string, body: Uint8Array, signal: AbortSignal | undefined, fields: FmiErrorFields): Promise<void> {
    const link = this.#link(signal);
    try {
      await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, IfNoneMatch: '*' }), { abortSignal: link.signal });
    } catch (err) {
      if (httpStatus(err) === 412) {
        throw new ChannelError(`object ${key} exists already (a job with the same id is running, or ran and was not cleaned)`, { rank: this.rank, channel: 's3', ...fields, cause: err });
      }
      throw this.#failure(err, `writing ${key}`, link.signal, fields);
    } finally {
      link.done();
    }
  }

  /** The caller's reason when the request was cancelled, else an FMI_CHANNEL error. */
  #failure(err: unknown, what: string, signal: AbortSignal, fields: FmiErrorFields): unknown {
    if (signal.aborted) return signal.reason;
    return s3Error(err, what, { rank: this.rank, ...fields });
  }

  #track(p: Promise<unknown>): void {
    this.#background.add(p);
    const done = () => this.#background.delete(p);
    p.then(done, done);
  }

  /** A send failed: mark its sequence number as skipped, unless the message landed after all. */
  async #fillGap(dest: number, key: string): Promise<void> {
    const marker = this.#buffers.frame(0, FLAG_SKIP, 0, 0, new Uint8Array(0), this.#seal, key);
    try {
      await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: marker, IfNoneMatch: '*' }), { abortSignal: this.#life.signal });
    } catch (err) {
      if (httpStatus(err) !== 412 && !this.#life.signal.aborted) this.#broken[dest] = err instanceof Error ? err : new Error(String(err));
    }
  }
}
