import { bytesOf, decode, encode, isTyped, Kind, kindOfTyped } from '../codec.js';
import { elemTypeOf, type NumericArray } from '../kernels/index.js';
import { FmiError, type FmiErrorFields } from '../errors.js';
import type { Channel, Probed } from '../channels/channel.js';
import { Deadline } from '../util/deadline.js';
import { describeKind, fillStatus } from './assemble.js';
import type { ProbeOptions, RecvOptions, SendOptions } from './options.js';
import type { OpOptions } from '../util/deadline.js';
import { Status } from './request.js';
import { checkNotDetached, checkRank, checkTag } from './validate.js';

// The bodies of Communicator's point-to-point methods, on what a communicator
// lends them (P2p): its channel, context and rank mapping.

// Synchronous sends. The message's kind byte carries a flag and a sequence
// number (kinds of user data fit the low 4 bits); the receiver acknowledges
// the moment a receive matches the message (even one that then fails, say
// truncated), on a context of its own (see CTX_STRIDE) with the message's tag
// and the sequence number as the kind. The sender reads the acknowledgements
// of one (dest, tag) in one loop and hands each to the send with its number,
// so the late acknowledgement of a send that gave up is dropped, not taken
// for a later one's (unless 8 sends to that pair and tag came in between).
const ACK_CTX = 2;
const SYNC_KIND = 0x80;
const SEQ_SHIFT = 4;
const SEQ_MASK = 0x7;
/** The kind of the data itself. */
const KIND_MASK = 0x0f;
const EMPTY = new Uint8Array(0);
const U8_KIND = kindOfTyped('u8');

interface AckWaiter {
  seq: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** The synchronous sends to one (dest, tag) that wait for their acknowledgement. */
export interface AckQueue {
  next: number;
  waiting: AckWaiter[];
  /** Sends that gave up after their message went out: their acknowledgements may still come (to be dropped). */
  owed: number;
  /** Stops the loop reading acknowledgements once nobody waits. */
  stop?: AbortController;
}

/** What a Communicator lends its point-to-point operations. */
export interface P2p {
  channel: Channel;
  /** The point-to-point context. */
  ctx: number;
  rank: number;
  /** How many ranks point-to-point addresses: the remote group's size on an intercommunicator. */
  size: number;
  timeoutMs: number | undefined;
  /** World rank of point-to-point rank r (ANY_SOURCE stays). */
  world(r: number): number;
  /** Point-to-point rank of a world rank. */
  local(worldRank: number): number;
  fields(op: string, peer?: number, tag?: number): FmiErrorFields;
  checkOpen(op: string): void;
  wrap(err: unknown, op: string, peer?: number, tag?: number): unknown;
  /** Synchronous sends waiting for acknowledgements, by `${dest}/${tag}`. */
  acks: Map<string, AckQueue>;
}

export async function send(p: P2p, data: unknown, dest: number, opts: SendOptions): Promise<void> {
  const op = 'send';
  p.checkOpen(op);
  checkRank('MPI_ERR_RANK', 'dest', dest, p.size, p.rank, op);
  const tag = checkTag(opts.tag, p.rank, op);
  checkNotDetached(data, 'the data', p.fields(op, dest, tag));
  const msg = encode(data);
  const d = Deadline.of(opts, p.timeoutMs, () => p.fields(op, dest, tag));
  try {
    if (!opts.synchronous) {
      await p.channel.send(p.world(dest), { ctx: p.ctx, tag, kind: msg.kind }, msg.bytes, d.signal);
      return;
    }
    await sendSynchronous(p, dest, tag, msg.kind, msg.bytes, d.signal);
  } catch (err) {
    throw p.wrap(err, op, dest, tag);
  } finally {
    d.dispose();
  }
}

async function sendSynchronous(p: P2p, dest: number, tag: number, kind: number, bytes: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
  const k = `${dest}/${tag}`;
  let q = p.acks.get(k);
  if (!q) p.acks.set(k, (q = { next: 0, waiting: [], owed: 0 }));
  const seq = q.next;
  q.next = (q.next + 1) & SEQ_MASK;
  let w!: AckWaiter;
  const acked = new Promise<void>((resolve, reject) => (w = { seq, resolve, reject }));
  acked.catch(() => {}); // awaited below, unless the send itself fails first
  q.waiting.push(w);
  if (!q.stop || q.stop.signal.aborted) void readAcks(p, dest, tag, q);
  const onAbort = () => w.reject(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  let sent = false;
  try {
    await p.channel.send(p.world(dest), { ctx: p.ctx, tag, kind: kind | SYNC_KIND | (seq << SEQ_SHIFT) }, bytes, signal);
    sent = true;
    await acked;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    const i = q.waiting.indexOf(w);
    if (i >= 0) {
      // Still waiting: this send gave up (or never went out).
      q.waiting.splice(i, 1);
      if (sent) q.owed++;
    }
    if (q.waiting.length === 0) {
      q.stop?.abort();
      // Nothing more to come for this (dest, tag): forget it (tags may be many, say iteration numbers).
      if (q.owed === 0 && p.acks.get(k) === q) p.acks.delete(k);
    }
  }
}

/** Reads the acknowledgements from (dest, tag) while synchronous sends wait for them. */
async function readAcks(p: P2p, dest: number, tag: number, q: AckQueue): Promise<void> {
  const stop = (q.stop = new AbortController());
  try {
    while (q.waiting.length > 0) {
      const r = await p.channel.recv({ source: p.world(dest), ctx: p.ctx + ACK_CTX, tag, signal: stop.signal });
      // An acknowledgement nobody waits for belongs to a send that gave up (a timeout): dropped.
      const i = q.waiting.findIndex((x) => x.seq === r.kind);
      if (i >= 0) q.waiting.splice(i, 1)[0]!.resolve();
      else q.owed = Math.max(0, q.owed - 1);
    }
  } catch (err) {
    // Not stopped but failed (a lost peer, a closed channel): so do the sends.
    if (!stop.signal.aborted) for (const x of q.waiting.splice(0)) x.reject(err);
  } finally {
    // Ended, one way or another: the next send starts a loop of its own.
    if (q.stop === stop) q.stop = undefined;
  }
}

type OnMatch = (source: number, tag: number, kind: number) => void;
const acknowledgers = new WeakMap<P2p, OnMatch>();

/** Acknowledges a synchronous message the moment a receive matches it (the sender waits for nothing else). One per communicator. */
function acknowledger(p: P2p): OnMatch {
  let f = acknowledgers.get(p);
  if (f) return f;
  f = (source, tag, kind) => {
    if (!(kind & SYNC_KIND)) return;
    // Out of the matcher's hands first; not the receive's signal: a receive
    // cancelled after matching must not cut the acknowledgement short.
    queueMicrotask(() => {
      p.channel.send(source, { ctx: p.ctx + ACK_CTX, tag, kind: (kind >> SEQ_SHIFT) & SEQ_MASK }, EMPTY).catch(() => {});
    });
  };
  acknowledgers.set(p, f);
  return f;
}

/** A receive its caller may withdraw (sendrecv's, when the send fails): `deadline` is set as the receive starts. */
export interface Withdrawable {
  deadline?: Deadline;
}

/** Checks a receive's arguments; its tag. */
function checkRecv(p: P2p, source: number, opts: RecvOptions<unknown>, op = 'recv'): number {
  p.checkOpen(op);
  checkRank('MPI_ERR_RANK', 'source', source, p.size, p.rank, op, true);
  const tag = checkTag(opts.tag, p.rank, op, true);
  const into = opts.into;
  if (into !== undefined && !isTyped(into)) throw new FmiError('MPI_ERR_ARG', 'recv `into` must be a numeric TypedArray', p.fields(op, source, tag));
  checkNotDetached(into, 'recv `into`', p.fields(op, source, tag));
  return tag;
}

export async function recv<T>(p: P2p, source: number, opts: RecvOptions<T>, w?: Withdrawable): Promise<T> {
  const op = 'recv';
  const tag = checkRecv(p, source, opts, op);
  const into = opts.into;
  const d = w ? (w.deadline = Deadline.withdrawable(opts, p.timeoutMs, p.fields(op, source, tag))) : Deadline.of(opts, p.timeoutMs, () => p.fields(op, source, tag));
  try {
    const r = await p.channel.recv({ source: p.world(source), ctx: p.ctx, tag, signal: d.signal, into: into && bytesOf(into), onMatch: acknowledger(p) });
    r.kind &= KIND_MASK;
    const from = p.local(r.source);
    if (opts.status) fillStatus(opts.status, from, r.tag, r.kind, r.data.byteLength);
    if (into) {
      if (sameBytes(r.kind) !== sameBytes(kindOf(into))) {
        throw new FmiError('MPI_ERR_TYPE', `received ${describeKind(r.kind)} into a ${into.constructor.name}`, p.fields(op, from, r.tag));
      }
      return into.subarray(0, r.data.byteLength / into.BYTES_PER_ELEMENT) as T;
    }
    return decode(r.kind, r.data) as T;
  } catch (err) {
    throw p.wrap(err, op, source, tag);
  } finally {
    d.dispose();
  }
}

/** The kind a TypedArray or Buffer is sent as (what encode() would say, without encoding). */
function kindOf(v: NumericArray | Buffer): number {
  return Buffer.isBuffer(v) ? Kind.BUFFER : kindOfTyped(elemTypeOf(v)!);
}

/** A Buffer's bytes fit a Uint8Array and back. */
function sameBytes(kind: number): number {
  return kind === Kind.BUFFER ? U8_KIND : kind;
}

export async function probe(p: P2p, source: number, opts: ProbeOptions): Promise<Status> {
  const op = 'probe';
  p.checkOpen(op);
  checkRank('MPI_ERR_RANK', 'source', source, p.size, p.rank, op, true);
  const tag = checkTag(opts.tag ?? -1, p.rank, op, true);
  const d = new Deadline(opts, p.timeoutMs, p.fields(op, source, tag));
  try {
    return probed(p, await p.channel.probe({ source: p.world(source), ctx: p.ctx, tag, signal: d.signal }), opts.status);
  } catch (err) {
    throw p.wrap(err, op, source, tag);
  } finally {
    d.dispose();
  }
}

export function iprobe(p: P2p, source: number, opts: Pick<ProbeOptions, 'tag' | 'status'>): Status | undefined {
  const op = 'iprobe';
  p.checkOpen(op);
  checkRank('MPI_ERR_RANK', 'source', source, p.size, p.rank, op, true);
  const tag = checkTag(opts.tag ?? -1, p.rank, op, true);
  const m = p.channel.iprobe({ source: p.world(source), ctx: p.ctx, tag });
  return m && probed(p, m, opts.status);
}

function probed(p: P2p, m: Probed, status = new Status()): Status {
  fillStatus(status, p.local(m.source), m.tag, m.kind & KIND_MASK, m.length);
  return status;
}

/** Sends to `dest` and receives from `source` at once, so ring exchanges cannot deadlock. */
export async function sendrecv<T>(
  p: P2p,
  data: unknown,
  dest: number,
  source: number,
  opts: OpOptions & { sendTag?: number; recvTag?: number; status?: Status; into?: NumericArray },
): Promise<T> {
  p.checkOpen('sendrecv');
  checkRank('MPI_ERR_RANK', 'dest', dest, p.size, p.rank, 'sendrecv');
  checkTag(opts.sendTag, p.rank, 'sendrecv');
  // Literals, not `{ ...opts, tag }`: a spread with a key added costs ~1 us on Node 20.
  const { signal, timeoutMs } = opts;
  const recvOpts: RecvOptions<T> = { signal, timeoutMs, tag: opts.recvTag ?? 0, status: opts.status, into: opts.into as never };
  const sendOpts: SendOptions = { signal, timeoutMs, tag: opts.sendTag ?? 0 };
  // Before anything goes out: a receive that cannot start must not leave its send behind.
  checkRecv(p, source, recvOpts, 'sendrecv');
  if (p.world(dest) === p.channel.rank) {
    // To itself: every channel keeps a message to its own rank without waiting
    // for a receive, so the send goes first and a failed one leaves no receive
    // to withdraw (no signal made per call: that costs more than the exchange).
    await send(p, data, dest, sendOpts);
    return recv<T>(p, source, recvOpts);
  }
  // If the send fails, the receive is withdrawn: it must not take a later message.
  const w: Withdrawable = {};
  const r = recv<T>(p, source, recvOpts, w);
  r.catch(() => {}); // awaited below
  try {
    await send(p, data, dest, sendOpts);
  } catch (err) {
    w.deadline?.withdraw(err);
    throw err;
  }
  return r;
}
