import { decodeError, Kind } from '../codec.js';
import { FmiError, type FmiErrorFields } from '../errors.js';
import { ANY_SOURCE, ANY_TAG, isStoreChannel, type Channel, type Probed, type ProbeRequest } from '../channels/channel.js';
import type { ChannelSet } from './channel-set.js';
import { CallContext } from './call-context.js';
import { hasStore } from '../collectives/mediated.js';
import { Deadline, checkOpOptions, type OpOptions } from '../util/deadline.js';
import { tellAll, type CollContext } from '../collectives/context.js';
import { signatureTag, type CallShape, type CollName } from '../collectives/signature.js';
import { CollWatch } from '../collectives/signed-recv.js';
import { VERDICTS } from '../collectives/verdict.js';
import { nodeCall } from '../collectives/node.js';
import { checkRank } from './validate.js';
import { ChoiceCache } from './choice-cache.js';
import type { Sizing } from './assemble.js';
import type { OpStats } from './options.js';

/** The collectives an intercommunicator runs over both groups; every other one fails. */
const ON_INTERCOMM: ReadonlySet<CollName> = new Set(['barrier', 'dup', 'merge']);

/** What the runner needs of its communicator: fixed when the communicator is made. */
export interface CollHost {
  rank: number;
  size: number;
  set: ChannelSet;
  /** Point-to-point traffic's channel (named in errors). */
  channel: Channel;
  /** The communicator's context: collectives use `ctx + 1`. */
  ctx: number;
  /** Members' world ranks (undefined for the world) and the inverse map. */
  group: number[] | undefined;
  toLocal: Map<number, number> | undefined;
  /** Whether this is an intercommunicator. */
  inter: boolean;
  timeoutMs: number | undefined;
  verdicts: boolean;
  checkOpen(op: string): void;
  fields(op: string, peer?: number, tag?: number): FmiErrorFields;
  wrap(err: unknown, op: string, peer?: number, tag?: number): unknown;
}

/**
 * One communicator's collective calls: run one after another in call order
 * (as MPI requires of every rank), each numbered and signed (signature.ts),
 * on the channel the cost model chooses, with errors found late (a rank
 * that only sent) raised and each call's time recorded.
 */
export class CollRunner {
  readonly #h: CollHost;
  /** Collectives run one after another, in call order, as MPI requires of every rank. */
  #queue: Promise<unknown> = Promise.resolve();
  /** Collectives called and not yet settled (the next one waits for them). */
  #pending = 0;
  /** Numbers this communicator's collectives (the same at every rank): names their shared values. */
  #seq = 0;
  readonly #stats = new Map<string, OpStats>();
  readonly #choices: ChoiceCache;
  /** Nudges and failures found elsewhere, for the collective call in progress (signed-recv.ts). */
  readonly #watch = new CollWatch();
  /** What #lateError probes for after every call: any message on the collective context. */
  readonly #anyOnColl: ProbeRequest;

  constructor(host: CollHost) {
    this.#h = host;
    this.#choices = new ChoiceCache(host.set);
    this.#anyOnColl = { source: ANY_SOURCE, ctx: host.ctx + 1, tag: ANY_TAG };
  }

  /** Settles when every collective called so far has (failures included). */
  settled(): Promise<unknown> {
    return this.#queue.catch(() => {});
  }

  run<T>(
    name: CollName,
    root: number | undefined,
    opts: OpOptions,
    run: (c: CollContext) => Promise<T>,
    sizing?: Sizing,
    shape?: CallShape,
  ): Promise<T> {
    const h = this.#h;
    // Options without a signal or timeout (the default): nothing to check, nothing to set up per call.
    const plain = opts == null || (opts.signal === undefined && opts.timeoutMs === undefined);
    try {
      h.checkOpen(name);
      if (h.inter && !ON_INTERCOMM.has(name)) throw new FmiError('MPI_ERR_COMM', `collective ${name} on an intercommunicator is not supported`, h.fields(name));
      if (root !== undefined) checkRank('MPI_ERR_ROOT', 'root', root, h.size, h.rank, name);
      if (!plain) checkOpOptions(opts, h.fields(name));
    } catch (err) {
      return Promise.reject(err);
    }
    // Every rank computes the same choice: same config, hint, op and size.
    const channel = this.#choices.choose(sizing);
    const d = plain && h.timeoutMs === undefined ? Deadline.NONE : this.#deadline(opts, name, channel);
    const seq = this.#seq++;
    // Every message of this call carries its signature as its tag; receives check it (see context).
    const sig = signatureTag(name, root, shape, seq);
    const c = this.context(name, h.group, sig, channel, d, { seq, key: isStoreChannel(channel) ? this.#storeKey(seq) : undefined });
    // Nothing before it still running: start now, without a turn of the microtask queue (and no closure).
    const idle = this.#pending++ === 0;
    const result = idle ? this.#body(name, root, run, c, d, sizing) : this.#after(name, root, run, c, d, sizing);
    this.#queue = result;
    return result;
  }

  /** A call's deadline; apart from run(), whose every call allocated this closure's scope. */
  #deadline(opts: OpOptions, name: CollName, channel: Channel): Deadline {
    const h = this.#h;
    return Deadline.of(opts, h.timeoutMs, () => ({ ...h.fields(name), channel: channel.name }));
  }

  /** The body once the calls before it settled; apart from run(), whose every call allocated this closure's scope. */
  #after<T>(name: CollName, root: number | undefined, run: (c: CollContext) => Promise<T>, c: CallContext, d: Deadline, sizing: Sizing | undefined): Promise<T> {
    const body = () => this.#body(name, root, run, c, d, sizing);
    return this.#queue.then(body, body);
  }

  async #body<T>(name: CollName, root: number | undefined, run: (c: CollContext) => Promise<T>, c: CallContext, d: Deadline, sizing: Sizing | undefined): Promise<T> {
    const h = this.#h;
    const { channel, seq } = c;
    const t0 = performance.now();
    try {
      d.check();
      // Rooted collectives end with a verdict (verdict.ts): no rank that only sent returns "ok" from a failed call.
      const verdict = h.verdicts && root !== undefined && c.size > 1 && !hasStore(c) ? VERDICTS[name] : undefined;
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
      throw h.wrap(err, name);
    } finally {
      d.dispose();
      this.#watch.end(seq);
      this.#record(name, channel, sizing, performance.now() - t0);
      this.#pending--;
    }
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
  context(op: string, members: number[] | undefined, tag: number, channel: Channel, d: Deadline, where: { ctx?: number; key?: string; seq?: number } = {}): CallContext {
    const h = this.#h;
    const index = members === h.group ? h.toLocal : members && new Map(members.map((w, i) => [w, i]));
    // A signed call's receives share the communicator's watch (signed-recv.ts).
    const c = new CallContext(h, op, members, index, channel, where.ctx ?? h.ctx + 1, tag, d.signal, where.seq ?? -1, this.#watch, where.key);
    // Thread ranks of the world only (two-level.ts): no closures for the others.
    if (h.set.node !== undefined) this.#nodeCall(c, op, members, tag, channel, d, where);
    return c;
  }

  /** Apart from context(): the closures here made every call of it allocate their scope, thread ranks or not. */
  #nodeCall(c: CallContext, op: string, members: number[] | undefined, tag: number, channel: Channel, d: Deadline, where: { ctx?: number; key?: string; seq?: number }): void {
    const h = this.#h;
    c.node = nodeCall(h.set.node!, channel, members, h.ctx, tag, d.signal, (peer) => c.fields(peer), (m) => this.context(op, m, tag, channel, d, where));
  }

  /** Per operation: calls, bytes, time, channels and modeled cost (copies). */
  stats(): Record<string, OpStats> {
    return Object.fromEntries([...this.#stats].map(([k, v]) => [k, { ...v, channels: { ...v.channels } }]));
  }

  /**
   * A rank that only sent in a call (a bcast root, a gather leaf) cannot see
   * a mismatch there; a peer that did sends it its error. If that error is
   * here already when the call ends (or one of the previous call's is still
   * waiting), the call fails with it: one probe, no waiting. An error of the
   * next call (a peer ahead of this rank) is left to it.
   */
  #lateError(channel: Channel, seq: number): Probed | undefined {
    const m = channel.iprobe(this.#anyOnColl);
    return m && m.kind === Kind.ERROR && ((m.tag >>> 13) & 3) !== ((seq + 1) & 3) ? m : undefined;
  }

  async #takeError(channel: Channel, m: Probed, op: string): Promise<FmiError> {
    const h = this.#h;
    const r = await channel.recv({ source: m.source, ctx: h.ctx + 1, tag: m.tag });
    const peer = h.toLocal ? h.toLocal.get(r.source) : r.source;
    return decodeError(r.data, { ...h.fields(op, peer), channel: channel.name });
  }

  /** The name of collective number `seq`'s shared value on a storage channel. */
  #storeKey(seq: number): string {
    const h = this.#h;
    return `c${h.ctx + 1}/${h.group ? h.group.join('.') + '/' : ''}${seq}`;
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
}
