import { AbortError, FmiError, ClosedError, type FmiErrorFields } from '../errors.js';
import { ANY_SOURCE, type Channel } from '../channels/channel.js';
import { ChannelSet } from './channel-set.js';
import type { Hint } from '../model/types.js';
import { allreduceModel } from './allreduce-model.js';
import * as inter from './inter-dispatch.js';
import { type NumericArray } from '../kernels/index.js';
import { type Op } from '../ops/op.js';
import { type OpOptions } from '../util/deadline.js';
import { barrierDissemination } from '../collectives/barrier.js';
import { allreduceAlgorithm } from '../collectives/allreduce-choice.js';
import { type Shared } from './context-id.js';
import { createIntercomm, mergeIntercomm, type CommKit } from './intercomm.js';
import { Request, type Status } from './request.js';
import * as p2p from './point-to-point.js';
import type { P2p } from './point-to-point.js';
import { CollRunner, type CollHost } from './collective-runner.js';
import { allreduceRun } from './allreduce-dispatch.js';
import { createGroupComm, dupComm, splitComm } from './comm-create.js';
import { allgatherRun, barrierRun, bcastRun, gatherRun, reduceRun, scanRun, scatterRun } from './intra-collectives.js';
import { alltoallRun, allgathervRun, alltoallvRun, gathervRun, reduceScatterRun, scattervRun } from './vector-collectives.js';
import { sized } from './assemble.js';
import type {
  AllreduceOptions, CommunicatorOptions, OpStats, ProbeOptions, RecvOptions, ReduceOptions, SendOptions, VectorOptions,
} from './options.js';

export type {
  AllreduceOptions, CommunicatorOptions, OpStats, ProbeOptions, RecvOptions, ReduceOptions, SendOptions, VectorOptions,
} from './options.js';
export { UNDEFINED } from './inter-collectives.js';

/** How long close() waits for the other ranks when a storage channel is open. */
const CLOSE_SYNC_MS = 10_000;

/** What a barrier without options passes on, every call the same (no object per call). */
const NO_OPTIONS: OpOptions = Object.freeze({});
const BARRIER_SIZING = Object.freeze({ op: 'barrier' as const, bytes: 0 });

/** Allreduce of TypedArrays at least this large, on more than two ranks, takes the ring (smaller large ones Rabenseifner's). */
export { RABENSEIFNER_MIN_BYTES, RING_MIN_BYTES } from '../collectives/allreduce-choice.js';

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
  readonly #p2p: P2p;
  /** What the collective runner and comm-create.ts need of this communicator. */
  readonly #host: CollHost;
  /** This communicator's collective calls: their order, signatures, channel choice and stats. */
  readonly #coll: CollRunner;

  constructor(channels: Channel | ChannelSet, opts: CommunicatorOptions, placement?: Placement) {
    this.#set = channels instanceof ChannelSet ? channels : ChannelSet.of(channels);
    const channel = this.#set.defaultChannel;
    this.#channel = channel;
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
    this.#host = {
      rank: this.rank, size: this.size, set: this.#set, channel, ctx: this.#ctx, group: this.#group, toLocal: this.#toLocal,
      inter: this.#peers !== undefined, timeoutMs: this.#timeoutMs, verdicts: this.#verdicts,
      checkOpen: (op) => this.#checkOpen(op),
      fields: (op, peer, tag) => this.#fields(op, peer, tag),
      wrap: (err, op, peer, tag) => this.#wrap(err, op, peer, tag),
    };
    this.#coll = new CollRunner(this.#host);
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
    // Cancelled through the receive's own deadline: no AbortSignal.any and no spread per call (~20 us and ~1 us on Node 20).
    const w: p2p.Withdrawable = {};
    const { signal, timeoutMs, tag, into } = opts;
    return new Request<T>(
      (status) => p2p.recv<T>(this.#p2p, source, { signal, timeoutMs, tag, into, status }, w),
      () => w.deadline?.withdraw(new AbortError('receive cancelled', this.#fields('irecv', source, tag))),
    );
  }

  /** Sends to `dest` and receives from `source` at once, so ring exchanges cannot deadlock. */
  sendrecv<T = unknown>(
    data: unknown,
    dest: number,
    source: number,
    opts: OpOptions & { sendTag?: number; recvTag?: number; status?: Status; into?: NumericArray } = {},
  ): Promise<T> {
    return p2p.sendrecv<T>(this.#p2p, data, dest, source, opts);
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
    // Only the root knows the size; with `bytes` given everywhere, the channel can follow it.
    const sizing = opts.bytes === undefined ? undefined : { op: 'bcast' as const, bytes: opts.bytes };
    return this.#coll.run('bcast', root, opts, (c) => bcastRun(c, data, root, opts.into), sizing);
  }

  /** Resolves when every rank has called barrier. */
  barrier(opts: OpOptions = NO_OPTIONS): Promise<void> {
    return this.#coll.run('barrier', undefined, opts, barrierRun, BARRIER_SIZING);
  }

  /**
   * Collects every rank's `data` at `root`: an array indexed by rank, or one
   * concatenated TypedArray when root's data is a TypedArray. Undefined at
   * other ranks.
   */
  gather<T = unknown>(data: T, root: number, opts: OpOptions = {}): Promise<T[] | T | undefined> {
    if (this.#peers) return inter.gather(this, data, root, opts);
    return this.#coll.run('gather', root, opts, (c) => gatherRun(c, data, root));
  }

  /**
   * Gives rank r the item `items[r]` from `root`. `items` (root only) is an
   * array of `size` values, or a TypedArray whose length divides by `size`
   * (rank r then gets the r-th equal slice, as a TypedArray of the same type).
   */
  scatter<T = unknown>(items: readonly T[] | NumericArray | undefined, root: number, opts: OpOptions = {}): Promise<T> {
    if (this.#peers) return inter.scatter<T>(this, items, root, opts) as Promise<T>;
    return this.#coll.run('scatter', root, opts, (c) => scatterRun<T>(c, items, root));
  }

  /** Combines every rank's `data` with `op`; the result at `root`, undefined elsewhere. */
  reduce<T = unknown>(data: T, op: Op, root: number, opts: ReduceOptions = {}): Promise<T | undefined> {
    if (this.#peers) return inter.reduce(this, data, op, root, opts);
    return this.#coll.run('reduce', root, opts, (c) => reduceRun(c, data, op, root, opts.into), sized('reduce', data), { op, data });
  }

  /**
   * Combines every rank's `data` with `op`; every rank gets the result,
   * identical bit for bit. Large TypedArrays with a predefined op take the
   * bandwidth-optimal ring; everything else recursive doubling.
   */
  allreduce<T = unknown>(data: T, op: Op, opts: AllreduceOptions = {}): Promise<T> {
    if (this.#peers) return inter.allreduce(this, data, op, opts);
    const sizing = sized('allreduce', data, allreduceModel(allreduceAlgorithm(op, data, this.size, opts.algorithm)));
    return this.#coll.run('allreduce', undefined, opts, (c) => allreduceRun(c, data, op, opts) as Promise<T>, sizing, { op, data });
  }

  /** Inclusive prefix: rank r gets data(0) op data(1) op ... op data(r). */
  scan<T = unknown>(data: T, op: Op, opts: ReduceOptions = {}): Promise<T> {
    return this.#coll.run('scan', undefined, opts, (c) => scanRun(c, data, op, opts.into, false) as Promise<T>, sized('scan', data), { op, data });
  }

  /** Exclusive prefix: rank r gets data(0) op ... op data(r - 1); rank 0 gets undefined. */
  exscan<T = unknown>(data: T, op: Op, opts: ReduceOptions = {}): Promise<T | undefined> {
    return this.#coll.run('exscan', undefined, opts, (c) => scanRun(c, data, op, opts.into, true), sized('scan', data), { op, data });
  }

  /** Every rank gets every rank's `data`: an array by rank, or one concatenated TypedArray for TypedArray data. */
  allgather<T = unknown>(data: T, opts: OpOptions = {}): Promise<T extends NumericArray ? T : T[]> {
    if (this.#peers) return inter.allgather(this, data, opts);
    return this.#coll.run('allgather', undefined, opts, (c) => allgatherRun(c, data)) as Promise<T extends NumericArray ? T : T[]>;
  }

  /**
   * Rank r sends `items[d]` to each rank d and gets what every rank sent it:
   * `items` is an array of `size` values (the result is an array by source),
   * or a TypedArray whose length divides by `size` (the result is one
   * TypedArray of the blocks by source).
   */
  alltoall<T = unknown>(items: readonly T[] | NumericArray, opts: OpOptions = {}): Promise<T[] | NumericArray> {
    if (this.#peers) return inter.alltoall(this, items, opts);
    return this.#coll.run('alltoall', undefined, opts, (c) => alltoallRun(c, items));
  }

  /**
   * Reduces `data` elementwise across ranks, then rank r keeps block r of the
   * result (`counts[r]` elements; by default equal blocks of `data.length / size`).
   */
  reduceScatter<T extends NumericArray>(data: T, op: Op, opts: OpOptions & { counts?: number[]; into?: NumericArray } = {}): Promise<T> {
    if (this.#peers) return inter.reduceScatter(this, data, op, opts);
    return this.#coll.run('reduceScatter', undefined, opts, (c) => reduceScatterRun(c, data, op, opts.counts, opts.into), undefined, { op, data });
  }

  /** Gather of TypedArrays of `counts[r]` elements from rank r, placed at `displs[r]` in root's result. */
  gatherv<T extends NumericArray>(data: T, counts: number[], root: number, opts: VectorOptions = {}): Promise<T | undefined> {
    if (this.#peers) return inter.gatherv(this, data, counts, root, opts);
    return this.#coll.run('gatherv', root, opts, (c) => gathervRun(c, data, counts, root, opts.displs));
  }

  /** Scatter of `counts[r]` elements from `displs[r]` of root's `data` to rank r. */
  scatterv<T extends NumericArray>(data: T | undefined, counts: number[], root: number, opts: VectorOptions = {}): Promise<T> {
    if (this.#peers) return inter.scatterv(this, data, counts, root, opts) as Promise<T>;
    return this.#coll.run('scatterv', root, opts, (c) => scattervRun(c, data, counts, root, opts.displs));
  }

  /** Allgather of TypedArrays of `counts[r]` elements from rank r, placed at `displs[r]`. */
  allgatherv<T extends NumericArray>(data: T, counts: number[], opts: VectorOptions = {}): Promise<T> {
    if (this.#peers) return inter.allgatherv(this, data, counts, opts);
    return this.#coll.run('allgatherv', undefined, opts, (c) => allgathervRun(c, data, counts, opts.displs));
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
    return this.#coll.run('alltoallv', undefined, opts, (c) => alltoallvRun(c, data, sendCounts, recvCounts, opts.sdispls, opts.rdispls));
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
    return this.#coll.stats();
  }

  // ---- communicators --------------------------------------------------------

  /** A new communicator with the same ranks (and remote group); its messages never match this one's. Collective. */
  dup(opts: OpOptions = {}): Promise<Communicator> {
    return dupComm(this.#kit(), opts);
  }

  /**
   * A communicator of `ranks` (ranks here, in the new order), made by those
   * ranks alone: the others do not call it. Calls over overlapping sets of
   * ranks may run at once if their `tag`s differ. Collective over `ranks`.
   */
  createGroup(ranks: readonly number[], opts: OpOptions & { tag?: number } = {}): Promise<Communicator> {
    return createGroupComm(this.#kit(), ranks, opts);
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
    return splitComm(this.#kit(), color, key, opts);
  }

  /** Releases a communicator made by dup or split; the world's channel stays open. */
  async free(): Promise<void> {
    if (this.#state !== 'open') return;
    if (this.#peers) await inter.free(this); // the helpers its collectives made
    this.#state = 'closing';
    await this.#coll.settled();
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
      await this.#coll.run('barrier', undefined, { timeoutMs: CLOSE_SYNC_MS }, (c) => barrierDissemination(c)).catch(() => {});
    }
    this.#state = 'closing';
    await this.#coll.settled();
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
      collective: (name, opts, run) => this.#coll.run(name, undefined, opts, run),
      make: (group, ctx, peers) => this.#make(group, ctx, peers),
      host: this.#host,
      coll: this.#coll,
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

