import { bytesOf, encode, decode, decodeError, isTyped, Kind, type Encoded } from '../codec.js';
import { FmiError, ClosedError, type FmiErrorFields } from '../errors.js';
import { ANY_SOURCE, ANY_TAG, isStoreChannel, type Channel, type Probed, type Received, type RecvTarget } from '../channels/channel.js';
import { ChannelSet } from './channel-set.js';
import type { Hint } from '../model/types.js';
import { allreduceModel } from './allreduce-model.js';
import { SIG_BYTES, signedValue } from './stored-value.js';
import * as inter from './inter-dispatch.js';
import { barrierStore, bcastStore, gatherFlat, hasStore, reduceFlat, writeOrFail } from '../collectives/mediated.js';
import { type NumericArray } from '../kernels/index.js';
import { checkOpFor, type Op } from '../ops/op.js';
import { checkOpOptions, Deadline, type OpOptions } from '../util/deadline.js';
import { bcastBinomial, intoFits } from '../collectives/bcast.js';
import { gatherBinomial } from '../collectives/gather.js';
import { scatterBinomial } from '../collectives/scatter.js';
import { reduceBinomial, reduceChain } from '../collectives/reduce.js';
import { allreduceRecursiveDoubling } from '../collectives/allreduce.js';
import { CHAIN_MAX_RANKS, exscanChain, exscanRecursiveDoubling, scanChain, scanRecursiveDoubling } from '../collectives/scan.js';
import { barrierDissemination } from '../collectives/barrier.js';
import { barrierTree } from '../collectives/barrier-tree.js';
import { allreduceTree, TREE_MAX_BYTES } from '../collectives/allreduce-tree.js';
import { TREE_MAX_RANKS } from '../collectives/tree.js';
import { allgatherRing } from '../collectives/allgather.js';
import { allreduceAlgorithm, allreduceBlocks, blockable } from '../collectives/allreduce-choice.js';
import { engineFor, withEngine } from '../collectives/engine.js';
import { mismatch, tellAll, type CollContext } from '../collectives/context.js';
import { signatureTag, type CallShape, type CollName } from '../collectives/signature.js';
import { CollWatch, signedRecv } from '../collectives/signed-recv.js';
import { VERDICTS } from '../collectives/verdict.js';
import { nodeBarrier, nodeBcast, nodeCall, nodeReduce, nodeTakesReduce } from '../collectives/node.js';
import { checkAllreduceAlgorithm, checkMembers, checkRank, checkTag } from './validate.js';
import { agreeContext, type Shared } from './context-id.js';
import { createIntercomm, mergeIntercomm, type CommKit } from './intercomm.js';
import { Request, type Status } from './request.js';
import { ChoiceCache } from './choice-cache.js';
import * as p2p from './point-to-point.js';
import type { P2p } from './point-to-point.js';
import type {
  AllreduceOptions, CommunicatorOptions, OpStats, ProbeOptions, RecvOptions, ReduceOptions, SendOptions, VectorOptions,
} from './options.js';

export type {
  AllreduceOptions, CommunicatorOptions, OpStats, ProbeOptions, RecvOptions, ReduceOptions, SendOptions, VectorOptions,
} from './options.js';
import { alltoallRun, allgathervRun, alltoallvRun, gathervRun, reduceScatterRun, scattervRun } from './vector-collectives.js';
import { concat, intoOrNew, orError, raiseItems, sized, splitForRanks, withInto, type Sizing } from './assemble.js';

export { UNDEFINED } from './inter-collectives.js';
import { UNDEFINED } from './inter-collectives.js';

/** How long close() waits for the other ranks when a storage channel is open. */
const CLOSE_SYNC_MS = 10_000;

/** Allreduce of TypedArrays at least this large, on more than two ranks, takes the ring (smaller large ones Rabenseifner's). */
export { RABENSEIFNER_MIN_BYTES, RING_MIN_BYTES } from '../collectives/allreduce-choice.js';

/** createGroup traffic takes the user's tag on a context of its own (GROUP_CTX): not queued, so not signed. */
const GROUP_CTX = 3;

/** The collectives an intercommunicator runs over both groups; every other one fails. */
const ON_INTERCOMM: ReadonlySet<CollName> = new Set(['barrier', 'dup', 'merge']);

interface Placement {
  /** World rank of each member, by rank in this communicator; undefined for the world. */
  group?: number[];
  ctx: number;
  shared: Shared;
  /**
   * Intercommunicators: the remote group's world ranks, which point-to-point
   * ranks address. `group` is then both groups, the local one among them.
   */
  peers?: number[];
}

/** @internal The insides comm/intercomm.ts and the MPI runtime work with; not part of the API. */
export let internals: (c: Communicator) => CommKit;

/**
 * A group of ranks that talk to each other: point-to-point messages and
 * collective operations. Every method returns a Promise and accepts
 * `{ signal, timeoutMs }`.
 */
export class Communicator {
  readonly rank: number;
  readonly size: number;
  readonly job: string;
  readonly #set: ChannelSet;
  /** Point-to-point traffic: the same channel at every rank. */
  readonly #channel: Channel;
  readonly #timeoutMs: number | undefined;
  readonly #verdicts: boolean;
  /** Members (world ranks) of collectives: both groups on an intercommunicator. */
  readonly #group: number[] | undefined;
  readonly #toLocal: Map<number, number> | undefined;
  /** What point-to-point ranks address instead of the members: the remote group of an intercommunicator. */
  readonly #peers: number[] | undefined;
  readonly #fromPeer: Map<number, number> | undefined;
  readonly #p2pSize: number;
  /** Point-to-point traffic uses context `#ctx`, collectives `#ctx + 1` (see CTX_STRIDE). */
  readonly #ctx: number;
  readonly #shared: Shared;
  #state: 'open' | 'closing' | 'closed' = 'open';
  /** Collectives run one after another, in call order, as MPI requires of every rank. */
  #collQueue: Promise<unknown> = Promise.resolve();
  /** Collectives called and not yet settled (the next one waits for them). */
  #collPending = 0;
  /** Numbers this communicator's collectives (the same at every rank): names their shared values. */
  #collSeq = 0;
  readonly #stats = new Map<string, OpStats>();
  readonly #choices: ChoiceCache;
  readonly #p2p: P2p;
  /** Nudges and failures found elsewhere, for the collective call in progress (signed-recv.ts). */
  readonly #watch = new CollWatch();

  constructor(channels: Channel | ChannelSet, opts: CommunicatorOptions, placement?: Placement) {
    this.#set = channels instanceof ChannelSet ? channels : ChannelSet.of(channels);
    const channel = this.#set.defaultChannel;
    this.#channel = channel;
    this.#choices = new ChoiceCache(this.#set);
    this.job = opts.job;
    this.#timeoutMs = opts.timeoutMs;
    this.#verdicts = opts.verdicts === true;
    this.#group = placement?.group;
    this.#ctx = placement?.ctx ?? 0;
    this.#shared = placement?.shared ?? { rank: channel.rank, size: channel.size, made: 0 };
    this.#toLocal = this.#group && new Map(this.#group.map((w, i) => [w, i]));
    this.#peers = placement?.peers;
    this.#fromPeer = this.#peers && new Map(this.#peers.map((w, i) => [w, i]));
    // rank and size are the local group's: on an intercommunicator, the members that are not peers.
    const local = this.#peers ? this.#group!.filter((w) => !this.#fromPeer!.has(w)) : this.#group;
    this.rank = local ? local.indexOf(channel.rank) : channel.rank;
    this.size = local ? local.length : channel.size;
    this.#p2pSize = this.#peers?.length ?? this.size;
    this.#p2p = {
      channel, ctx: this.#ctx, rank: this.rank, size: this.#p2pSize, timeoutMs: this.#timeoutMs,
      world: (r) => this.#world(r),
      local: (w) => this.#local(w),
      fields: (op, peer, tag) => this.#fields(op, peer, tag),
      checkOpen: (op) => this.#checkOpen(op),
      wrap: (err, op, peer, tag) => this.#wrap(err, op, peer, tag),
      acks: new Map(),
    };
  }

  /** Whether this is an intercommunicator (made by `Communicator.intercomm`). */
  get isInter(): boolean {
    return this.#peers !== undefined;
  }

  /** The remote group's size on an intercommunicator (what point-to-point ranks address); undefined otherwise. */
  get remoteSize(): number | undefined {
    return this.#peers?.length;
  }

  // ---- point to point -------------------------------------------------------

  /** Sends `data` (a TypedArray, or any structured-cloneable value) to rank `dest`. */
  send(data: unknown, dest: number, opts: SendOptions = {}): Promise<void> {
    return p2p.send(this.#p2p, data, dest, opts);
  }

  /**
   * Receives the next message from `source` (or ANY_SOURCE) with `tag` (or
   * ANY_TAG); resolves to what was sent (the same TypedArray type).
   */
  recv<T = unknown>(source: number, opts: RecvOptions<T> = {}): Promise<T> {
    return p2p.recv(this.#p2p, source, opts);
  }

  /** Starts a send; the Request resolves when `data` may be reused. */
  isend(data: unknown, dest: number, opts: SendOptions = {}): Request<void> {
    return new Request(() => this.send(data, dest, opts));
  }

  /** Starts a receive; the Request resolves to the message and then its `status` is set. Cancellable. */
  irecv<T = unknown>(source: number, opts: RecvOptions<T> = {}): Request<T> {
    const ac = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
    return new Request<T>(
      (status) => this.recv<T>(source, { ...opts, signal, status }),
      () => ac.abort(),
    );
  }

  /** Sends to `dest` and receives from `source` at once, so ring exchanges cannot deadlock. */
  async sendrecv<T = unknown>(
    data: unknown,
    dest: number,
    source: number,
    opts: OpOptions & { sendTag?: number; recvTag?: number; status?: Status; into?: NumericArray } = {},
  ): Promise<T> {
    this.#checkOpen('sendrecv');
    checkRank('MPI_ERR_RANK', 'dest', dest, this.#p2pSize, this.rank, 'sendrecv');
    checkTag(opts.sendTag, this.rank, 'sendrecv');
    // If the send fails, the receive is withdrawn: it must not take a later message.
    const ac = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
    const recv = this.recv<T>(source, { ...opts, signal, tag: opts.recvTag ?? 0, into: opts.into as never });
    recv.catch(() => {}); // awaited below
    try {
      await this.send(data, dest, { ...opts, tag: opts.sendTag ?? 0 });
    } catch (err) {
      ac.abort(err);
      throw err;
    }
    return recv;
  }

  /** Waits for a message from `source` with `tag` without receiving it; resolves to its Status. */
  probe(source: number, opts: ProbeOptions = {}): Promise<Status> {
    return p2p.probe(this.#p2p, source, opts);
  }

  /** The Status of a message from `source` with `tag` that has arrived, or undefined; never blocks. */
  iprobe(source: number, opts: Omit<ProbeOptions, keyof OpOptions> = {}): Status | undefined {
    return p2p.iprobe(this.#p2p, source, opts);
  }

  // ---- collectives ----------------------------------------------------------

  /**
   * Every rank gets root's `data` (needed at the root only). With `into` (a
   * TypedArray of the type and length of root's data), the result is written
   * there instead of into a new array; a large payload is received into it
   * directly. An `into` that does not fit fails this rank with MPI_ERR_ARG
   * after the others got the data.
   */
  bcast<T = unknown>(data: T | undefined, root: number, opts: OpOptions & { bytes?: number; into?: NumericArray } = {}): Promise<T> {
    if (this.#peers) return inter.bcast(this, data, root, opts) as Promise<T>;
    return this.#collective(
      'bcast',
      root,
      opts,
      async (c) => {
        const msg = c.rank === root ? this.#encodeOrError(data, c) : undefined;
        const into = opts.into;
        const target = isTyped(into) ? { kind: encode(into).kind, bytes: bytesOf(into) } : undefined;
        const out = c.node ? await nodeBcast(c, c.node, root, msg, target) : hasStore(c) ? await bcastStore(c, root, msg) : await bcastBinomial(c, root, msg, { into: target });
        if (into === undefined) return decode(out.kind, out.bytes) as T;
        if (!intoFits(target, out.kind, out.bytes.byteLength)) {
          throw new FmiError('MPI_ERR_ARG', '`into` must be a TypedArray of the type and length of the root\'s data', c.fields());
        }
        const mine = bytesOf(into);
        if (out.bytes.buffer !== mine.buffer || out.bytes.byteOffset !== mine.byteOffset) mine.set(out.bytes);
        return into as T;
      },
      // Only the root knows the size; with `bytes` given everywhere, the channel can follow it.
      opts.bytes === undefined ? undefined : { op: 'bcast', bytes: opts.bytes },
    );
  }

  /** Resolves when every rank has called barrier. */
  barrier(opts: OpOptions = {}): Promise<void> {
    return this.#collective('barrier', undefined, opts, (c) => (c.node ? nodeBarrier(c, c.node) : hasStore(c) ? barrierStore(c) : c.size <= TREE_MAX_RANKS ? barrierTree(c) : barrierDissemination(c)), { op: 'barrier', bytes: 0 });
  }

  /**
   * Collects every rank's `data` at `root`: an array indexed by rank, or one
   * concatenated TypedArray when root's data is a TypedArray. Undefined at
   * other ranks.
   */
  gather<T = unknown>(data: T, root: number, opts: OpOptions = {}): Promise<T[] | T | undefined> {
    if (this.#peers) return inter.gather(this, data, root, opts);
    return this.#collective('gather', root, opts, async (c) => {
      const mine = this.#encodeOrError(data, c);
      const items = hasStore(c) ? await gatherFlat(c, root, mine) : await gatherBinomial(c, root, mine);
      if (mine.kind === Kind.ERROR) throw decodeError(mine.bytes, c.fields());
      if (!items) return undefined;
      const failed = items.find((it) => it.kind === Kind.ERROR);
      if (failed) {
        // A mismatch a rank found on the way up is the call's error; any other is its contribution's.
        const err = decodeError(failed.bytes, { ...c.fields(failed.rank) });
        throw err.code === 'FMI_MISMATCH' ? err : new FmiError('MPI_ERR_ARG', `rank ${failed.rank} could not contribute`, this.#fields('gather', failed.rank));
      }
      return (isTyped(data) ? concat(items, data, c) : items.map((it) => decode(it.kind, it.bytes))) as T[] | T;
    });
  }

  /**
   * Gives rank r the item `items[r]` from `root`. `items` (root only) is an
   * array of `size` values, or a TypedArray whose length divides by `size`
   * (rank r then gets the r-th equal slice, as a TypedArray of the same type).
   */
  scatter<T = unknown>(items: readonly T[] | NumericArray | undefined, root: number, opts: OpOptions = {}): Promise<T> {
    if (this.#peers) return inter.scatter<T>(this, items, root, opts) as Promise<T>;
    return this.#collective('scatter', root, opts, async (c) => {
      const payload = c.rank === root ? orError(() => splitForRanks(items, c)) : undefined;
      const mine = await scatterBinomial(c, root, payload);
      return decode(mine.kind, mine.bytes) as T;
    });
  }

  /** Combines every rank's `data` with `op`; the result at `root`, undefined elsewhere. */
  reduce<T = unknown>(data: T, op: Op, root: number, opts: ReduceOptions = {}): Promise<T | undefined> {
    if (this.#peers) return inter.reduce(this, data, op, root, opts);
    return this.#collective(
      'reduce',
      root,
      opts,
      async (c) => {
        checkOpFor(op, data, { rank: this.rank, op: 'reduce' });
        return (await withInto(c.rank === root ? opts.into : undefined, data, c, async (into) =>
          c.node && (await nodeTakesReduce(c, c.node, op, data)) ? nodeReduce(c, c.node, op, data as NumericArray, into, root) : withEngine(engineFor(c, op, data, into), (e) => {
            if (hasStore(c)) return reduceFlat(c, e, root);
            if (!op.associative) return reduceChain(c, e, root);
            return reduceBinomial(c, e, root, op.commutative ? root : 0);
          }),
        )) as T | undefined;
      },
      sized('reduce', data),
      { op, data },
    );
  }

  /**
   * Combines every rank's `data` with `op`; every rank gets the result,
   * identical bit for bit. Large TypedArrays with a predefined op take the
   * bandwidth-optimal ring; everything else recursive doubling.
   */
  allreduce<T = unknown>(data: T, op: Op, opts: AllreduceOptions = {}): Promise<T> {
    if (this.#peers) return inter.allreduce(this, data, op, opts);
    return this.#collective('allreduce', undefined, opts, (c) => {
      checkOpFor(op, data, { rank: this.rank, op: 'allreduce' });
      checkAllreduceAlgorithm(opts.algorithm, { rank: this.rank, op: 'allreduce' });
      if (opts.into === undefined) return this.#allreduce(c, data, op, opts, undefined) as Promise<T>;
      return withInto(opts.into, data, c, (into) => this.#allreduce(c, data, op, opts, into)) as Promise<T>;
    }, sized('allreduce', data, allreduceModel(allreduceAlgorithm(op, data, this.size, opts.algorithm))), { op, data });
  }

  /** Inclusive prefix: rank r gets data(0) op data(1) op ... op data(r). */
  scan<T = unknown>(data: T, op: Op, opts: ReduceOptions = {}): Promise<T> {
    return this.#collective('scan', undefined, opts, async (c) => {
      checkOpFor(op, data, { rank: this.rank, op: 'scan' });
      const scan = op.associative && c.size > CHAIN_MAX_RANKS ? scanRecursiveDoubling : scanChain;
      return (await withInto(opts.into, data, c, (into) => withEngine(engineFor(c, op, data, into), (e) => scan(c, e)))) as T;
    }, sized('scan', data), { op, data });
  }

  /** Exclusive prefix: rank r gets data(0) op ... op data(r - 1); rank 0 gets undefined. */
  exscan<T = unknown>(data: T, op: Op, opts: ReduceOptions = {}): Promise<T | undefined> {
    return this.#collective('exscan', undefined, opts, async (c) => {
      checkOpFor(op, data, { rank: this.rank, op: 'exscan' });
      const exscan = op.associative && c.size > CHAIN_MAX_RANKS ? exscanRecursiveDoubling : exscanChain;
      return (await withInto(opts.into, data, c, (into) => withEngine(engineFor(c, op, data, into), (e) => exscan(c, e)))) as T | undefined;
    }, sized('scan', data), { op, data });
  }

  /** Every rank gets every rank's `data`: an array by rank, or one concatenated TypedArray for TypedArray data. */
  allgather<T = unknown>(data: T, opts: OpOptions = {}): Promise<T extends NumericArray ? T : T[]> {
    if (this.#peers) return inter.allgather(this, data, opts);
    return this.#collective('allgather', undefined, opts, async (c) => {
      const items = await allgatherRing(c, this.#encodeOrError(data, c));
      raiseItems(items, c);
      if (isTyped(data)) return concat(items.map((it, rank) => ({ rank, ...it })), data, c);
      return items.map((it) => decode(it.kind, it.bytes));
    }) as Promise<T extends NumericArray ? T : T[]>;
  }

  /**
   * Rank r sends `items[d]` to each rank d and gets what every rank sent it:
   * `items` is an array of `size` values (the result is an array by source),
   * or a TypedArray whose length divides by `size` (the result is one
   * TypedArray of the blocks by source).
   */
  alltoall<T = unknown>(items: readonly T[] | NumericArray, opts: OpOptions = {}): Promise<T[] | NumericArray> {
    if (this.#peers) return inter.alltoall(this, items, opts);
    return this.#collective('alltoall', undefined, opts, (c) => alltoallRun(c, items));
  }

  /**
   * Reduces `data` elementwise across ranks, then rank r keeps block r of the
   * result (`counts[r]` elements; by default equal blocks of `data.length / size`).
   */
  reduceScatter<T extends NumericArray>(data: T, op: Op, opts: OpOptions & { counts?: number[]; into?: NumericArray } = {}): Promise<T> {
    if (this.#peers) return inter.reduceScatter(this, data, op, opts);
    return this.#collective('reduceScatter', undefined, opts, (c) => reduceScatterRun(c, data, op, opts.counts, opts.into), undefined, { op, data });
  }

  /** Gather of TypedArrays of `counts[r]` elements from rank r, placed at `displs[r]` in root's result. */
  gatherv<T extends NumericArray>(data: T, counts: number[], root: number, opts: VectorOptions = {}): Promise<T | undefined> {
    if (this.#peers) return inter.gatherv(this, data, counts, root, opts);
    return this.#collective('gatherv', root, opts, (c) => gathervRun(c, data, counts, root, opts.displs));
  }

  /** Scatter of `counts[r]` elements from `displs[r]` of root's `data` to rank r. */
  scatterv<T extends NumericArray>(data: T | undefined, counts: number[], root: number, opts: VectorOptions = {}): Promise<T> {
    if (this.#peers) return inter.scatterv(this, data, counts, root, opts) as Promise<T>;
    return this.#collective('scatterv', root, opts, (c) => scattervRun(c, data, counts, root, opts.displs));
  }

  /** Allgather of TypedArrays of `counts[r]` elements from rank r, placed at `displs[r]`. */
  allgatherv<T extends NumericArray>(data: T, counts: number[], opts: VectorOptions = {}): Promise<T> {
    if (this.#peers) return inter.allgatherv(this, data, counts, opts);
    return this.#collective('allgatherv', undefined, opts, (c) => allgathervRun(c, data, counts, opts.displs));
  }

  /**
   * Rank r sends `sendCounts[d]` elements from `sdispls[d]` of `data` to rank d,
   * and places `recvCounts[s]` elements from rank s at `rdispls[s]` of the result.
   */
  alltoallv<T extends NumericArray>(
    data: T,
    sendCounts: number[],
    recvCounts: number[],
    opts: OpOptions & { sdispls?: number[]; rdispls?: number[] } = {},
  ): Promise<T> {
    if (this.#peers) return inter.alltoallv(this, data, sendCounts, recvCounts, opts);
    return this.#collective('alltoallv', undefined, opts, (c) => alltoallvRun(c, data, sendCounts, recvCounts, opts.sdispls, opts.rdispls));
  }

  // ---- channel choice and accounting ----------------------------------------

  /**
   * Sets the hint collectives choose their channel by: 'fast' (least modeled
   * time) or 'cheap' (least modeled cost). Call it at the same point on every
   * rank, as the choice must agree. Point-to-point traffic keeps the channel
   * chosen when the job started. Returns the hint in force.
   */
  hint(h?: Hint): Hint {
    if (h !== undefined) {
      if (h !== 'fast' && h !== 'cheap') throw new FmiError('MPI_ERR_ARG', `hint must be 'fast' or 'cheap', got ${JSON.stringify(h)}`, this.#fields('hint'));
      this.#set.policy.hint = h;
    }
    return this.#set.policy.hint;
  }

  /** The channels this rank has open; the first is the one point-to-point traffic uses. */
  get channels(): string[] {
    return [this.#channel.name, ...this.#set.names.filter((n) => n !== this.#channel.name)];
  }

  /**
   * Per operation: calls, bytes (per rank, where known), wall time, how often
   * each channel was used, and the cost model's estimate of what they cost.
   */
  stats(): Record<string, OpStats> {
    return Object.fromEntries([...this.#stats].map(([k, v]) => [k, { ...v, channels: { ...v.channels } }]));
  }

  // ---- communicators --------------------------------------------------------

  /** A new communicator with the same ranks (and remote group); its messages never match this one's. Collective. */
  dup(opts: OpOptions = {}): Promise<Communicator> {
    return this.#collective('dup', undefined, opts, async (c) => {
      const { ctx } = await agreeContext(c, this.#shared, 0);
      return this.#make(this.#group, ctx, this.#peers);
    });
  }

  /**
   * A communicator of `ranks` (ranks here, in the new order), made by those
   * ranks alone: the others do not call it. Calls over overlapping sets of
   * ranks may run at once if their `tag`s differ. Collective over `ranks`.
   */
  async createGroup(ranks: readonly number[], opts: OpOptions & { tag?: number } = {}): Promise<Communicator> {
    const op = 'createGroup';
    this.#checkOpen(op);
    if (this.#peers) throw new FmiError('MPI_ERR_COMM', 'createGroup needs an intracommunicator', this.#fields(op));
    checkMembers(ranks, this.size, this.rank, op);
    const tag = checkTag(opts.tag, this.rank, op);
    const members = ranks.map((r) => this.#member(r));
    const d = new Deadline(opts, this.#timeoutMs, this.#fields(op, undefined, tag));
    try {
      // Not queued behind this communicator's collectives: non-members run those in their own order.
      const { ctx } = await agreeContext(this.#context(op, members, tag, this.#channel, d, { ctx: this.#ctx + GROUP_CTX }), this.#shared, 0);
      return this.#make(members, ctx);
    } catch (err) {
      throw this.#wrap(err, op, undefined, tag);
    } finally {
      d.dispose();
    }
  }

  /**
   * An intercommunicator between the group of `local` and another, disjoint
   * one: collective over both. `localLeader` (a rank of `local`) talks to the
   * other group's leader, `remoteLeader`, a rank of `peer` (needed at the
   * local leader only), with `tag` on `peer`. Point-to-point ranks on it
   * address the remote group; `rank`/`size` are the local group's.
   */
  static intercomm(
    local: Communicator,
    localLeader: number,
    peer: Communicator | undefined,
    remoteLeader: number,
    opts: OpOptions & { tag?: number } = {},
  ): Promise<Communicator> {
    return createIntercomm(local.#kit(), localLeader, peer && peer.#kit(), remoteLeader, opts);
  }

  /**
   * The intracommunicator of both groups of this intercommunicator: the group
   * that passed `high: false` first; when both passed the same, the group whose
   * leader has the lower world rank. Collective over both groups.
   */
  merge(high: boolean, opts: OpOptions = {}): Promise<Communicator> {
    return mergeIntercomm(this.#kit(), high, opts);
  }

  /**
   * Splits into one communicator per `color`, ranks ordered by `key` then by
   * rank here. A rank passing UNDEFINED gets null. Collective.
   */
  split(color: number, key = 0, opts: OpOptions = {}): Promise<Communicator | null> {
    if (this.#peers) return inter.split(this, color, key, opts);
    return this.#collective('split', undefined, opts, async (c) => {
      if (color !== UNDEFINED && !(Number.isInteger(color) && color >= 0)) throw new FmiError('MPI_ERR_ARG', `color must be a non-negative integer or UNDEFINED, got ${color}`, c.fields());
      if (!Number.isInteger(key)) throw new FmiError('MPI_ERR_ARG', `key must be an integer, got ${key}`, c.fields());
      const { ctx, all } = await agreeContext(c, this.#shared, [color, key] as [number, number]);
      if (color === UNDEFINED) return null;
      const members = all
        .map(([col, k], r) => ({ col, k, r }))
        .filter((m) => m.col === color)
        .sort((a, b) => a.k - b.k || a.r - b.r)
        .map((m) => this.#member(m.r));
      return this.#make(members, ctx);
    });
  }

  /** Releases a communicator made by dup or split; the world's channel stays open. */
  async free(): Promise<void> {
    if (this.#state !== 'open') return;
    if (this.#peers) await inter.free(this); // the helpers its collectives made
    this.#state = 'closing';
    await this.#collQueue.catch(() => {});
    this.#state = 'closed';
  }

  /** Closes this rank's connections (for the world communicator; others are freed). Later calls fail with FMI_CLOSED. */
  async close(): Promise<void> {
    if (this.#ctx !== 0) return this.free();
    if (this.#state !== 'open') return;
    if (this.size > 1 && this.#set.hasStore) {
      // A storage channel deletes what this rank wrote when it closes: wait
      // (boundedly) until every rank got here, so no value is deleted under a reader.
      // Point-to-point messages, not a stored release value: this rank's close deletes what it stored.
      await this.#collective('barrier', undefined, { timeoutMs: CLOSE_SYNC_MS }, (c) => barrierDissemination(c)).catch(() => {});
    }
    this.#state = 'closing';
    await this.#collQueue.catch(() => {});
    await this.#set.close();
    this.#state = 'closed';
  }

  // ---- internals -------------------------------------------------------------

  static {
    internals = (c) => c.#kit();
  }

  #kit(): CommKit {
    return {
      self: this,
      members: this.#group ?? Array.from({ length: this.size }, (_, i) => i),
      peers: this.#peers,
      shared: this.#shared,
      set: this.#set,
      collective: (name, opts, run) => this.#collective(name, undefined, opts, run),
      make: (group, ctx, peers) => this.#make(group, ctx, peers),
    };
  }

  #make(group: number[] | undefined, ctx: number, peers?: number[]): Communicator {
    return new Communicator(this.#set, { job: this.job, timeoutMs: this.#timeoutMs, verdicts: this.#verdicts }, { group, ctx, shared: this.#shared, peers });
  }

  /** World rank of point-to-point rank r: a member's, or on an intercommunicator a remote one's. */
  #world(r: number): number {
    const to = this.#peers ?? this.#group;
    return to && r !== ANY_SOURCE ? to[r]! : r;
  }

  /** Point-to-point rank of a world rank (the inverse of #world). */
  #local(worldRank: number): number {
    const from = this.#fromPeer ?? this.#toLocal;
    return from ? from.get(worldRank)! : worldRank;
  }

  /** World rank of collective rank r. */
  #member(r: number): number {
    return this.#group ? this.#group[r]! : r;
  }

  /** Allreduce's algorithms: on storage, the ring, recursive doubling, or a chain for ops that are not associative. */
  async #allreduce(c: CollContext, data: unknown, op: Op, opts: AllreduceOptions, into: NumericArray | undefined): Promise<unknown> {
    if (c.node && (opts.algorithm ?? 'auto') === 'auto' && (await nodeTakesReduce(c, c.node, op, data))) return nodeReduce(c, c.node, op, data as NumericArray, into, undefined);
    if (hasStore(c)) {
      // On storage: every part read at rank 0 as it lands, folded in rank order, one write for all.
      const out = await writeOrFail(c, 0, async () => {
        const r = await withEngine(engineFor(c, op, data), (e) => reduceFlat(c, e, 0));
        return bcastStore(c, 0, c.rank === 0 ? encode(r) : undefined);
      });
      return intoOrNew(decode(out.kind, out.bytes), into);
    }
    const algorithm = allreduceAlgorithm(op, data, c.size, opts.algorithm);
    if (algorithm !== 'recursive-doubling') {
      if (!blockable(op, data, c.size)) throw new FmiError('MPI_ERR_ARG', `the ${algorithm} algorithm needs a TypedArray, a predefined op and more than one rank`, c.fields());
      return allreduceBlocks(c, op, data as NumericArray, into, algorithm);
    }
    if (op.associative) {
      // Few ranks and little data: fewer messages (allreduce-tree.ts). Every rank decides alike: same size, same byte count.
      const tree = c.size <= TREE_MAX_RANKS && (!isTyped(data) || data.byteLength <= TREE_MAX_BYTES);
      return withEngine(engineFor(c, op, data, into, !tree), (e) => (tree ? allreduceTree(c, e, into) : allreduceRecursiveDoubling(c, e)));
    }
    // Not associative: one exact left-to-right chain, then everyone gets it.
    const r = await withEngine(engineFor(c, op, data), (e) => reduceChain(c, e, 0));
    const out = await bcastBinomial(c, 0, c.rank === 0 ? encode(r) : undefined);
    return intoOrNew(decode(out.kind, out.bytes), into);
  }

  #collective<T>(
    name: CollName,
    root: number | undefined,
    opts: OpOptions,
    run: (c: CollContext) => Promise<T>,
    sizing?: Sizing,
    shape?: CallShape,
  ): Promise<T> {
    try {
      this.#checkOpen(name);
      if (this.#peers && !ON_INTERCOMM.has(name)) throw new FmiError('MPI_ERR_COMM', `collective ${name} on an intercommunicator is not supported`, this.#fields(name));
      if (root !== undefined) checkRank('MPI_ERR_ROOT', 'root', root, this.size, this.rank, name);
      checkOpOptions(opts, this.#fields(name));
    } catch (err) {
      return Promise.reject(err);
    }
    // Every rank computes the same choice: same config, hint, op and size.
    const channel = this.#choices.choose(sizing);
    // No signal and no timeout (the default): nothing to set up per call.
    const d = Deadline.of(opts, this.#timeoutMs, () => ({ ...this.#fields(name), channel: channel.name }));
    const seq = this.#collSeq++;
    // Every message of this call carries its signature as its tag; receives check it (see #context).
    const sig = signatureTag(name, root, shape, seq);
    const c = this.#context(name, this.#group, sig, channel, d, { seq, key: isStoreChannel(channel) ? this.#storeKey(seq) : undefined });
    const body = async (): Promise<T> => {
      const t0 = performance.now();
      try {
        d.check();
        // Rooted collectives end with a verdict (verdict.ts): no rank that only sent returns "ok" from a failed call.
        const verdict = this.#verdicts && root !== undefined && c.size > 1 && !hasStore(c) ? VERDICTS[name] : undefined;
        let out: T;
        try {
          out = await run(c);
        } catch (err) {
          if (verdict) await verdict(c, root!, err);
          // Without verdicts, ranks that only sent learn of a mismatch found here in their next call (failure path only).
          else if (root !== undefined) await tellAll(c, err);
          throw err;
        }
        if (verdict) await verdict(c, root!, undefined);
        let late = this.#lateError(channel, seq);
        while (late && this.#watch.stale(late.tag, seq)) {
          await this.#takeError(channel, late, name); // a copy of an error this rank failed with: dropped
          late = this.#lateError(channel, seq);
        }
        if (late) throw await this.#takeError(channel, late, name);
        return out;
      } catch (err) {
        this.#watch.callFailed(seq);
        throw this.#wrap(err, name);
      } finally {
        d.dispose();
        this.#watch.end(seq);
        this.#record(name, channel, sizing, performance.now() - t0);
        this.#collPending--;
      }
    };
    // Nothing before it still running: start now, without a turn of the microtask queue.
    const idle = this.#collPending++ === 0;
    const result = idle ? body() : this.#collQueue.then(body, body);
    this.#collQueue = result;
    return result;
  }

  /**
   * A rank that only sent in a call (a bcast root, a gather leaf) cannot see
   * a mismatch there; a peer that did sends it its error. If that error is
   * here already when the call ends (or one of the previous call's is still
   * waiting), the call fails with it: one probe, no waiting. An error of the
   * next call (a peer ahead of this rank) is left to it.
   */
  #lateError(channel: Channel, seq: number): Probed | undefined {
    const m = channel.iprobe({ source: ANY_SOURCE, ctx: this.#ctx + 1, tag: ANY_TAG });
    return m && m.kind === Kind.ERROR && ((m.tag >>> 13) & 3) !== ((seq + 1) & 3) ? m : undefined;
  }

  async #takeError(channel: Channel, m: Probed, op: string): Promise<FmiError> {
    const r = await channel.recv({ source: m.source, ctx: this.#ctx + 1, tag: m.tag });
    const peer = this.#toLocal ? this.#toLocal.get(r.source) : r.source;
    return decodeError(r.data, { ...this.#fields(op, peer), channel: channel.name });
  }

  /** The name of collective number `seq`'s shared value on a storage channel. */
  #storeKey(seq: number): string {
    return `c${this.#ctx + 1}/${this.#group ? this.#group.join('.') + '/' : ''}${seq}`;
  }

  /**
   * What a collective algorithm runs on: `members` (world ranks; undefined
   * for the world) talking with `tag` on the collective context (or `where.ctx`);
   * with `where.key`, the shared value of a storage channel. A `signed` call's
   * tag is its signature: its receives take any tag from the peer and fail
   * every rank with FMI_MISMATCH when the tag differs (a message of another
   * collective, or of this one called with another root, op, type or count);
   * its shared value starts with the signature too.
   */
  #context(op: string, members: number[] | undefined, tag: number, channel: Channel, d: Deadline, where: { ctx?: number; key?: string; seq?: number } = {}): CollContext {
    const ctx = where.ctx ?? this.#ctx + 1;
    const seq = where.seq;
    const signed = seq !== undefined;
    const index = members === this.#group ? this.#toLocal : members && new Map(members.map((w, i) => [w, i]));
    const world = (r: number) => (members ? members[r]! : r);
    const local = (w: number) => (index ? index.get(w)! : w);
    const key = where.key;
    const c: CollContext = {
      rank: local(channel.rank),
      size: members ? members.length : channel.size,
      op,
      send: (peer, msg) => channel.send(world(peer), { ctx, tag, kind: msg.kind }, msg.bytes, d.signal),
      recv: signed
        ? (peer, into?: RecvTarget, capacity?: number, fits?: (kind: number, length: number) => boolean, stop?: AbortSignal) =>
            signedRecv(call!, c, peer, into, capacity, fits, stop)
        : async (peer, into?: RecvTarget, capacity?: number, fits?: (kind: number, length: number) => boolean): Promise<Received> => {
            const r = await channel.recv({ source: world(peer), ctx, tag, into, capacity, fits, signal: d.signal });
            r.source = local(r.source);
            return r;
          },
      fields: (peer) => ({ ...this.#fields(op, peer), channel: channel.name }),
      node: nodeCall(this.#set.node, channel, members, this.#ctx, tag, d.signal, (peer) => c.fields(peer), (m) => this.#context(op, m, tag, channel, d, where)),
      store: key !== undefined && isStoreChannel(channel)
        ? {
            // The value starts with the writer's signature and rank (8 bytes, so the payload stays aligned).
            put: (msg, readers) => channel.put(key, msg.kind, signedValue(tag, c.rank, msg.bytes), readers, d.signal),
            get: async (writer) => {
              const r = await channel.get(key, d.signal, world(writer));
              const head = r.data.byteLength >= SIG_BYTES ? new DataView(r.data.buffer, r.data.byteOffset, SIG_BYTES) : undefined;
              const theirs = head ? head.getUint32(0, true) : -1;
              if (theirs !== tag && r.kind !== Kind.ERROR) return mismatch(c, head ? head.getUint32(4, true) : writer, theirs, tag);
              return { kind: r.kind, bytes: r.data.subarray(SIG_BYTES) };
            },
          }
        : undefined,
    };
    // A signed call's receives share the communicator's watch (signed-recv.ts).
    const call = signed ? { channel, ctx, tag, seq, world, local, signal: d.signal, watch: this.#watch } : undefined;
    return c;
  }

  #record(op: string, channel: Channel, sizing: Sizing | undefined, ms: number): void {
    let s = this.#stats.get(op);
    if (!s) this.#stats.set(op, (s = { calls: 0, bytes: 0, timeMs: 0, channels: {}, modeledCostUsd: 0, modeledChannelUsd: 0 }));
    s.calls++;
    s.timeMs += ms;
    s.channels[channel.name] = (s.channels[channel.name] ?? 0) + 1;
    if (sizing) {
      s.bytes += sizing.bytes;
      const usd = this.#choices.costUsd(channel, sizing);
      s.modeledCostUsd += usd.total;
      s.modeledChannelUsd += usd.channel;
    }
  }

  /** At the root, bad input still reaches the peers (as an error), so they fail instead of waiting. */
  #encodeOrError(data: unknown, c: CollContext): Encoded {
    return orError(() => encode(data), c);
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

