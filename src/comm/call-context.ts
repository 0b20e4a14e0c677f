import { Kind, type Encoded } from '../codec.js';
import type { FmiErrorFields } from '../errors.js';
import { isStoreChannel, type Channel, type Received, type RecvTarget } from '../channels/channel.js';
import { mismatch, raiseIfError, type CollContext } from '../collectives/context.js';
import type { NodeCall } from '../collectives/two-level.js';
import { signedRecv, signedRecvVoid, type CollWatch, type SignedCall } from '../collectives/signed-recv.js';
import { SIG_BYTES, signedValue } from './stored-value.js';

/** What every call of one communicator shares: how its errors are described. */
export interface CallOwner {
  fields(op: string, peer?: number, tag?: number): FmiErrorFields;
}

/**
 * One collective call's context (what its algorithm sees, context.ts) and,
 * when signed, what its receives check against (signed-recv.ts): one object
 * with methods, made once per call. It was a literal of a dozen closures per
 * call; with many ranks on few CPUs a call's cost is the code and memory it
 * touches, summed over the ranks (bench/README.md, "Issue 11").
 */
export class CallContext implements CollContext, SignedCall {
  readonly rank: number;
  readonly size: number;
  node: NodeCall | undefined = undefined;
  readonly store: CollContext['store'];

  constructor(
    readonly owner: CallOwner,
    readonly op: string,
    /** Members' world ranks (undefined: every rank of the world) and the inverse map. */
    readonly members: number[] | undefined,
    readonly index: Map<number, number> | undefined,
    readonly channel: Channel,
    readonly ctx: number,
    readonly tag: number,
    readonly signal: AbortSignal | undefined,
    /** The call's number when signed (its receives take any tag and compare), else -1. */
    readonly seq: number,
    readonly watch: CollWatch,
    key: string | undefined,
  ) {
    this.rank = this.local(channel.rank);
    this.size = members ? members.length : channel.size;
    this.store = key === undefined ? undefined : storeOf(this, key);
  }

  world(r: number): number {
    return this.members ? this.members[r]! : r;
  }

  local(w: number): number {
    return this.index ? this.index.get(w)! : w;
  }

  send(peer: number, msg: Encoded): Promise<void> {
    return this.channel.send(this.world(peer), { ctx: this.ctx, tag: this.tag, kind: msg.kind }, msg.bytes, this.signal);
  }

  recv(peer: number, into?: RecvTarget, capacity?: number, fits?: (kind: number, length: number) => boolean, stop?: AbortSignal): Promise<Received> {
    if (this.seq >= 0) return signedRecv(this, this, peer, into, capacity, fits, stop);
    return this.#plainRecv(peer, into, capacity, fits);
  }

  recvVoid(peer: number): Promise<void> {
    if (this.seq >= 0) return signedRecvVoid(this, this, peer);
    return this.#plainRecv(peer).then((r) => raiseIfError(this, r));
  }

  async #plainRecv(peer: number, into?: RecvTarget, capacity?: number, fits?: (kind: number, length: number) => boolean): Promise<Received> {
    const r = await this.channel.recv({ source: this.world(peer), ctx: this.ctx, tag: this.tag, into, capacity, fits, signal: this.signal });
    r.source = this.local(r.source);
    return r;
  }

  fields(peer?: number): FmiErrorFields {
    return { ...this.owner.fields(this.op, peer), channel: this.channel.name };
  }
}

/** On a storage channel, the call's one shared value: it starts with the writer's signature and rank (8 bytes, so the payload stays aligned). */
function storeOf(c: CallContext, key: string): CollContext['store'] {
  const channel = c.channel;
  if (!isStoreChannel(channel)) return undefined;
  return {
    put: (msg, readers) => channel.put(key, msg.kind, signedValue(c.tag, c.rank, msg.bytes), readers, c.signal),
    get: async (writer) => {
      const r = await channel.get(key, c.signal, c.world(writer));
      const head = r.data.byteLength >= SIG_BYTES ? new DataView(r.data.buffer, r.data.byteOffset, SIG_BYTES) : undefined;
      const theirs = head ? head.getUint32(0, true) : -1;
      if (theirs !== c.tag && r.kind !== Kind.ERROR) return mismatch(c, head ? head.getUint32(4, true) : writer, theirs, c.tag);
      return { kind: r.kind, bytes: r.data.subarray(SIG_BYTES) };
    },
  };
}
