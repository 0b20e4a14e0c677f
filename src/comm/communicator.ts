import { bytesOf, encode, decode, decodeError, encodeError, elemTypeOfKind, isTyped, Kind, typedView, type Encoded } from '../codec.js';
import { FmiError, ClosedError, type FmiErrorFields } from '../errors.js';
import type { Channel, Received, RecvTarget } from '../channels/channel.js';
import { typedArrayCtor, type NumericArray } from '../kernels/index.js';
import { checkOpFor, type Op } from '../ops/op.js';
import { Deadline, type OpOptions } from '../util/deadline.js';
import { bcastBinomial } from '../collectives/bcast.js';
import { gatherBinomial } from '../collectives/gather.js';
import { scatterBinomial } from '../collectives/scatter.js';
import { reduceBinomial, reduceChain } from '../collectives/reduce.js';
import { allreduceRecursiveDoubling } from '../collectives/allreduce.js';
import { scanChain, scanRecursiveDoubling } from '../collectives/scan.js';
import { barrierDissemination } from '../collectives/barrier.js';
import { engineFor } from '../collectives/engine.js';
import type { CollContext } from '../collectives/context.js';
import type { Item } from '../collectives/bundle.js';
import { checkRank, checkTag } from './validate.js';

export interface SendOptions extends OpOptions {
  /** @default 0 */
  tag?: number;
}

export interface RecvOptions<T = unknown> extends OpOptions {
  /** @default 0 */
  tag?: number;
  /**
   * Receive into this TypedArray instead of a new one (no allocation); the
   * result is a view of `into` as long as the message. A longer message fails
   * with MPI_ERR_TRUNCATE; a message of another type with MPI_ERR_TYPE.
   */
  into?: T extends NumericArray ? T : NumericArray;
}

/** Tags of collective traffic, on the communicator's collective context. */
const CollTag = { bcast: 1, gather: 2, scatter: 3, reduce: 4, allreduce: 5, scan: 6, barrier: 7 } as const;
type CollName = keyof typeof CollTag;

export interface CommunicatorOptions {
  /** Identifies the job; ranks of different jobs never talk to each other. */
  job: string;
  /** Default timeout of every operation. @default none */
  timeoutMs?: number;
  /** Context ids: point-to-point traffic uses `context`, collectives `context + 1`. @default 0 */
  context?: number;
}

/**
 * A group of ranks that talk to each other: point-to-point messages and
 * collective operations. Every method returns a Promise and accepts
 * `{ signal, timeoutMs }`.
 */
export class Communicator {
  readonly rank: number;
  readonly size: number;
  readonly job: string;
  readonly #channel: Channel;
  readonly #timeoutMs: number | undefined;
  readonly #p2pCtx: number;
  readonly #collCtx: number;
  #state: 'open' | 'closing' | 'closed' = 'open';
  /** Collectives run one after another, in call order, as MPI requires of every rank. */
  #collQueue: Promise<unknown> = Promise.resolve();

  constructor(channel: Channel, opts: CommunicatorOptions) {
    this.#channel = channel;
    this.rank = channel.rank;
    this.size = channel.size;
    this.job = opts.job;
    this.#timeoutMs = opts.timeoutMs;
    this.#p2pCtx = opts.context ?? 0;
    this.#collCtx = this.#p2pCtx + 1;
  }

  /** Sends `data` (a TypedArray, or any structured-cloneable value) to rank `dest`. */
  async send(data: unknown, dest: number, opts: SendOptions = {}): Promise<void> {
    const op = 'send';
    this.#checkOpen(op);
    checkRank('MPI_ERR_RANK', 'dest', dest, this.size, this.rank, op);
    const tag = checkTag(opts.tag, this.rank, op);
    const msg = encode(data);
    const d = new Deadline(opts, this.#timeoutMs, this.#fields(op, dest, tag));
    try {
      await this.#channel.send(dest, { ctx: this.#p2pCtx, tag, kind: msg.kind }, msg.bytes, d.signal);
    } catch (err) {
      throw this.#wrap(err, op, dest, tag);
    } finally {
      d.dispose();
    }
  }

  /** Receives the next message from `source` with `tag`; resolves to what was sent (same TypedArray type). */
  async recv<T = unknown>(source: number, opts: RecvOptions<T> = {}): Promise<T> {
    const op = 'recv';
    this.#checkOpen(op);
    checkRank('MPI_ERR_RANK', 'source', source, this.size, this.rank, op, true);
    const tag = checkTag(opts.tag, this.rank, op, true);
    const into = opts.into;
    if (into !== undefined && !isTyped(into)) throw new FmiError('MPI_ERR_ARG', 'recv `into` must be a numeric TypedArray', this.#fields(op, source, tag));
    const d = new Deadline(opts, this.#timeoutMs, this.#fields(op, source, tag));
    try {
      const r = await this.#channel.recv({ source, ctx: this.#p2pCtx, tag, signal: d.signal, into: into && bytesOf(into) });
      if (into) {
        // A Buffer's bytes fit a Uint8Array and back.
        const norm = (k: number) => (k === Kind.BUFFER ? Kind.TYPED_BASE + 1 : k);
        if (norm(r.kind) !== norm(encode(into).kind)) {
          throw new FmiError('MPI_ERR_TYPE', `received ${describeKind(r.kind)} into a ${into.constructor.name}`, this.#fields(op, r.source, r.tag));
        }
        return into.subarray(0, r.data.byteLength / into.BYTES_PER_ELEMENT) as T;
      }
      return decode(r.kind, r.data) as T;
    } catch (err) {
      throw this.#wrap(err, op, source, tag);
    } finally {
      d.dispose();
    }
  }

  /** Every rank gets root's `data` (needed at the root only). */
  bcast<T = unknown>(data: T | undefined, root: number, opts: OpOptions = {}): Promise<T> {
    return this.#collective('bcast', root, opts, async (c) => {
      const msg = c.rank === root ? this.#encodeOrError(data, c) : undefined;
      const out = await bcastBinomial(c, root, msg);
      return decode(out.kind, out.bytes) as T;
    });
  }

  /** Resolves when every rank has called barrier. */
  barrier(opts: OpOptions = {}): Promise<void> {
    return this.#collective('barrier', undefined, opts, (c) => barrierDissemination(c));
  }

  /**
   * Collects every rank's `data` at `root`: an array indexed by rank, or one
   * concatenated TypedArray when root's data is a TypedArray. Undefined at
   * other ranks.
   */
  gather<T = unknown>(data: T, root: number, opts: OpOptions = {}): Promise<T[] | T | undefined> {
    return this.#collective('gather', root, opts, async (c) => {
      const mine = this.#encodeOrError(data, c);
      const items = await gatherBinomial(c, root, mine);
      if (mine.kind === Kind.ERROR) throw decodeError(mine.bytes, c.fields());
      if (!items) return undefined;
      const failed = items.find((it) => it.kind === Kind.ERROR);
      if (failed) throw new FmiError('MPI_ERR_ARG', `rank ${failed.rank} could not contribute`, this.#fields('gather', failed.rank));
      return (isTyped(data) ? this.#concat(items, data, c) : items.map((it) => decode(it.kind, it.bytes))) as T[] | T;
    });
  }

  /**
   * Gives rank r the item `items[r]` from `root`. `items` (root only) is an
   * array of `size` values, or a TypedArray whose length divides by `size`
   * (rank r then gets the r-th equal slice, as a TypedArray of the same type).
   */
  scatter<T = unknown>(items: readonly T[] | NumericArray | undefined, root: number, opts: OpOptions = {}): Promise<T> {
    return this.#collective('scatter', root, opts, async (c) => {
      let payload: Encoded[] | Encoded | undefined;
      if (c.rank === root) {
        try {
          payload = this.#splitForScatter(items);
        } catch (err) {
          payload = encodeError(err as FmiError);
        }
      }
      const mine = await scatterBinomial(c, root, payload);
      return decode(mine.kind, mine.bytes) as T;
    });
  }

  /** Combines every rank's `data` with `op`; the result at `root`, undefined elsewhere. */
  reduce<T = unknown>(data: T, op: Op, root: number, opts: OpOptions = {}): Promise<T | undefined> {
    return this.#collective('reduce', root, opts, async (c) => {
      checkOpFor(op, data, { rank: this.rank, op: 'reduce' });
      const e = engineFor(c, op, data);
      if (!op.associative) return (await reduceChain(c, e, root)) as T | undefined;
      return (await reduceBinomial(c, e, root, op.commutative ? root : 0)) as T | undefined;
    });
  }

  /** Combines every rank's `data` with `op`; every rank gets the result. */
  allreduce<T = unknown>(data: T, op: Op, opts: OpOptions = {}): Promise<T> {
    return this.#collective('allreduce', undefined, opts, async (c) => {
      checkOpFor(op, data, { rank: this.rank, op: 'allreduce' });
      const e = engineFor(c, op, data);
      if (op.associative) return (await allreduceRecursiveDoubling(c, e)) as T;
      // Not associative: one exact left-to-right chain, then everyone gets it.
      const r = await reduceChain(c, e, 0);
      const out = await bcastBinomial(c, 0, c.rank === 0 ? encode(r) : undefined);
      return decode(out.kind, out.bytes) as T;
    });
  }

  /** Inclusive prefix: rank r gets data(0) op data(1) op ... op data(r). */
  scan<T = unknown>(data: T, op: Op, opts: OpOptions = {}): Promise<T> {
    return this.#collective('scan', undefined, opts, async (c) => {
      checkOpFor(op, data, { rank: this.rank, op: 'scan' });
      const e = engineFor(c, op, data);
      return (op.associative ? await scanRecursiveDoubling(c, e) : await scanChain(c, e)) as T;
    });
  }

  /** Closes this rank's connections. Later calls fail with FMI_CLOSED. */
  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    await this.#collQueue.catch(() => {});
    await this.#channel.close();
    this.#state = 'closed';
  }

  #collective<T>(name: CollName, root: number | undefined, opts: OpOptions, run: (c: CollContext) => Promise<T>): Promise<T> {
    try {
      this.#checkOpen(name);
      if (root !== undefined) checkRank('MPI_ERR_ROOT', 'root', root, this.size, this.rank, name);
    } catch (err) {
      return Promise.reject(err);
    }
    const d = new Deadline(opts, this.#timeoutMs, this.#fields(name));
    const tag = CollTag[name];
    const c: CollContext = {
      rank: this.rank,
      size: this.size,
      op: name,
      send: (peer, msg) => this.#channel.send(peer, { ctx: this.#collCtx, tag, kind: msg.kind }, msg.bytes, d.signal),
      recv: (peer, into?: RecvTarget, capacity?: number): Promise<Received> =>
        this.#channel.recv({ source: peer, ctx: this.#collCtx, tag, into, capacity, signal: d.signal }),
      fields: (peer) => this.#fields(name, peer),
    };
    const result = this.#collQueue.then(async () => {
      try {
        d.check();
        return await run(c);
      } catch (err) {
        throw this.#wrap(err, name);
      } finally {
        d.dispose();
      }
    });
    this.#collQueue = result.catch(() => {});
    return result;
  }

  /** At the root, bad input still reaches the peers (as an error), so they fail instead of waiting. */
  #encodeOrError(data: unknown, c: CollContext): Encoded {
    try {
      return encode(data);
    } catch (err) {
      const e = err instanceof FmiError ? err : new FmiError('MPI_ERR_TYPE', String(err), c.fields());
      return encodeError(e);
    }
  }

  #splitForScatter(items: unknown): Encoded[] {
    const fields = this.#fields('scatter');
    if (isTyped(items)) {
      if (items.length % this.size !== 0) {
        throw new FmiError('MPI_ERR_COUNT', `${items.constructor.name} of length ${items.length} does not divide into ${this.size} equal parts`, fields);
      }
      const n = items.length / this.size;
      return Array.from({ length: this.size }, (_, r) => encode(items.subarray(r * n, (r + 1) * n)));
    }
    if (!Array.isArray(items) || items.length !== this.size) {
      throw new FmiError('MPI_ERR_COUNT', `scatter needs an array of ${this.size} items or a TypedArray at the root, got ${Array.isArray(items) ? `${items.length} items` : typeof items}`, fields);
    }
    return items.map((it) => encode(it));
  }

  #concat(items: Item[], mine: NumericArray, c: CollContext): NumericArray {
    const t = elemTypeOfKind(encode(mine).kind)!;
    let total = 0;
    for (const it of items) {
      if (elemTypeOfKind(it.kind) !== t) {
        throw new FmiError('MPI_ERR_TYPE', `rank ${it.rank} contributed a different type than the root's ${mine.constructor.name}`, c.fields(it.rank));
      }
      total += it.bytes.byteLength;
    }
    const Ctor = typedArrayCtor(t);
    const out = new Ctor(total / Ctor.BYTES_PER_ELEMENT);
    let off = 0;
    for (const it of items) {
      const v = typedView(t, it.bytes);
      (out as { set(a: ArrayLike<unknown>, o: number): void }).set(v as ArrayLike<unknown>, off);
      off += v.length;
    }
    return out;
  }

  #checkOpen(op: string): void {
    if (this.#state !== 'open') throw new ClosedError('communicator is closed', { rank: this.rank, op });
  }

  #fields(op: string, peer?: number, tag?: number): FmiErrorFields {
    return { rank: this.rank, op, peer, tag, channel: this.#channel.name };
  }

  #wrap(err: unknown, op: string, peer?: number, tag?: number): unknown {
    if (err instanceof FmiError) return err;
    return new FmiError('FMI_CHANNEL', (err as Error)?.message ?? String(err), { ...this.#fields(op, peer, tag), cause: err });
  }
}

function describeKind(kind: number): string {
  if (kind === Kind.STRUCTURED) return 'a structured value';
  if (kind === Kind.BUFFER) return 'a Buffer';
  const t = elemTypeOfKind(kind);
  return t ? `${t} data` : `kind ${kind}`;
}
