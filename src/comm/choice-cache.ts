import type { Channel } from '../channels/channel.js';
import type { ChannelSet } from './channel-set.js';
import type { Sizing } from './assemble.js';

/** Entries kept; a job uses a handful of (op, size) shapes, a sweep over sizes starts over. */
const MAX_ENTRIES = 256;

/**
 * The channel choice and the modeled cost of each collective, remembered per
 * (op, bytes, model, hint): the cost model is pure in those (the config and
 * the rank count are fixed), and evaluating it on every call was a fixed cost
 * of every collective.
 */
export class ChoiceCache {
  readonly #set: ChannelSet;
  readonly #chosen = new Map<string, Channel>();
  readonly #cost = new Map<string, { total: number; channel: number }>();
  #last: { channel: Channel; op: Sizing['op']; bytes: number; model: Sizing['model']; usd: { total: number; channel: number } } | undefined;

  constructor(set: ChannelSet) {
    this.#set = set;
  }

  choose(sizing: Sizing | undefined): Channel {
    const set = this.#set;
    if (sizing === undefined || set.single) return set.defaultChannel;
    const key = `${set.policy.hint}|${keyOf(sizing)}`;
    let ch = this.#chosen.get(key);
    if (ch === undefined) {
      ch = set.choose(sizing.op, sizing.bytes, sizing.model);
      remember(this.#chosen, key, ch);
    }
    return ch;
  }

  /**
   * The model's USD for one call of `sizing` on `channel` (0 when the model
   * has no figure): in all, and for the channel alone (requests,
   * infrastructure share, transfer: all but the functions' time).
   */
  costUsd(channel: Channel, sizing: Sizing): { total: number; channel: number } {
    // A loop of one collective asks for the same figure call after call: no key string for it.
    const last = this.#last;
    if (last !== undefined && last.channel === channel && last.op === sizing.op && last.bytes === sizing.bytes && last.model === sizing.model) return last.usd;
    const usd = this.#costOf(channel, sizing);
    this.#last = { channel, op: sizing.op, bytes: sizing.bytes, model: sizing.model, usd };
    return usd;
  }

  #costOf(channel: Channel, sizing: Sizing): { total: number; channel: number } {
    const key = `${channel.name}|${keyOf(sizing)}`;
    let usd = this.#cost.get(key);
    if (usd === undefined) {
      const e = this.#set.estimate(channel, sizing.op, sizing.bytes, sizing.model);
      usd = { total: e?.cost_usd ?? 0, channel: e ? e.cost_usd - e.cost.functions : 0 };
      remember(this.#cost, key, usd);
    }
    return usd;
  }
}

const keyOf = (s: Sizing) => `${s.op}|${s.bytes}|${s.model ? modelKey(s.model) : ''}`;

/** Model options by object: callers pass the same object for the same options (no JSON per call). */
const modelKeys = new WeakMap<object, string>();
function modelKey(m: object): string {
  let k = modelKeys.get(m);
  if (k === undefined) modelKeys.set(m, (k = JSON.stringify(m)));
  return k;
}

function remember<T>(m: Map<string, T>, key: string, v: T): void {
  if (m.size >= MAX_ENTRIES) m.clear();
  m.set(key, v);
}
