import { bytesOf, decode, encode, isTyped, Kind } from '../codec.js';
import { FmiError, type FmiErrorFields } from '../errors.js';
import type { Channel, Probed } from '../channels/channel.js';
import { Deadline } from '../util/deadline.js';
import { describeKind, fillStatus } from './assemble.js';
import type { ProbeOptions, RecvOptions, SendOptions } from './options.js';
import { Status } from './request.js';
import { checkRank, checkTag } from './validate.js';

// The bodies of Communicator's point-to-point methods, on what a communicator
// lends them (P2p): its channel, context and rank mapping.

/** Acknowledgements of synchronous sends: on a context of their own (see CTX_STRIDE), which no user receive can match. */
const ACK_CTX = 2;
/** Marks a point-to-point message whose sender waits for an acknowledgement (kinds of user data stay below it). */
const SYNC_KIND = 0x80;
const EMPTY = new Uint8Array(0);

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
}

export async function send(p: P2p, data: unknown, dest: number, opts: SendOptions): Promise<void> {
  const op = 'send';
  p.checkOpen(op);
  checkRank('MPI_ERR_RANK', 'dest', dest, p.size, p.rank, op);
  const tag = checkTag(opts.tag, p.rank, op);
  const msg = encode(data);
  const d = new Deadline(opts, p.timeoutMs, p.fields(op, dest, tag));
  try {
    if (!opts.synchronous) {
      await p.channel.send(p.world(dest), { ctx: p.ctx, tag, kind: msg.kind }, msg.bytes, d.signal);
      return;
    }
    // Acknowledgements of one (dest, tag) come back in the order the receiver matched the messages: FIFO, like these receives.
    const ack = p.channel.recv({ source: p.world(dest), ctx: p.ctx + ACK_CTX, tag, signal: d.signal });
    ack.catch(() => {}); // awaited below
    await p.channel.send(p.world(dest), { ctx: p.ctx, tag, kind: msg.kind | SYNC_KIND }, msg.bytes, d.signal);
    await ack;
  } catch (err) {
    throw p.wrap(err, op, dest, tag);
  } finally {
    d.dispose();
  }
}

export async function recv<T>(p: P2p, source: number, opts: RecvOptions<T>): Promise<T> {
  const op = 'recv';
  p.checkOpen(op);
  checkRank('MPI_ERR_RANK', 'source', source, p.size, p.rank, op, true);
  const tag = checkTag(opts.tag, p.rank, op, true);
  const into = opts.into;
  if (into !== undefined && !isTyped(into)) throw new FmiError('MPI_ERR_ARG', 'recv `into` must be a numeric TypedArray', p.fields(op, source, tag));
  const d = new Deadline(opts, p.timeoutMs, p.fields(op, source, tag));
  try {
    const r = await p.channel.recv({ source: p.world(source), ctx: p.ctx, tag, signal: d.signal, into: into && bytesOf(into) });
    if (r.kind & SYNC_KIND) {
      r.kind &= ~SYNC_KIND;
      await p.channel.send(r.source, { ctx: p.ctx + ACK_CTX, tag: r.tag, kind: Kind.TYPED_BASE }, EMPTY, d.signal);
    }
    const from = p.local(r.source);
    if (opts.status) fillStatus(opts.status, from, r.tag, r.kind, r.data.byteLength);
    if (into) {
      // A Buffer's bytes fit a Uint8Array and back.
      const norm = (k: number) => (k === Kind.BUFFER ? Kind.TYPED_BASE + 1 : k);
      if (norm(r.kind) !== norm(encode(into).kind)) {
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
  fillStatus(status, p.local(m.source), m.tag, m.kind & ~SYNC_KIND, m.length);
  return status;
}
