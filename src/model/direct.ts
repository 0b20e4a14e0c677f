import { pipelining, SEGMENT_BYTES } from '../collectives/bcast-pipelined.js';
// Read when called, never at load: this import closes a cycle (communicator -> channel set -> model).
import { RING_MIN_BYTES } from '../comm/communicator.js';
import type { LinkParams } from './params.js';
import type { DirectAllreduce, OpName } from './types.js';

/** What a peer-to-peer algorithm does: its completion time, its messages and their payload bytes. */
export interface P2pTraffic {
  time_s: number;
  messages: number;
  bytes: number;
}

/**
 * The direct channel runs the algorithms in src/collectives/ over
 * point-to-point messages of `alpha + bytes / beta` seconds each:
 *
 * - bcast, scatter: binomial tree from the root, a node sending to its
 *   children in order of decreasing subtree, one after another; a bcast of
 *   `pipelining.minBytes` or more on more than two ranks goes down the tree
 *   in segments of SEGMENT_BYTES (bcast-pipelined.ts), see pipelinedBcast;
 * - gather, reduce: binomial tree towards the root, a node sending once its
 *   subtree is complete (gather and scatter move whole subtree bundles);
 * - allreduce: recursive doubling, log2(p) exchanges for the largest power
 *   of two p <= n, plus one step before and one after when n > p
 *   (or a ring: 2 (n - 1) steps of bytes / n; 'auto' takes the ring where
 *   the communicator does for a TypedArray with a predefined op: from
 *   RING_MIN_BYTES on, more than two ranks);
 * - scan: recursive doubling, ceil(log2 n) exchanges;
 * - barrier: dissemination, ceil(log2 n) rounds of empty messages.
 *
 * An exchange (send and receive at once) takes one message time: links are
 * full duplex. Contention at a node that receives from two children at the
 * same moment is not modeled.
 */
export function directTraffic(op: OpName, bytes: number, ranks: number, link: LinkParams, allreduce: DirectAllreduce = 'recursive-doubling'): P2pTraffic {
  const msg = (b: number) => link.alpha + b / link.beta;
  const n = ranks;
  if (op === 'send' || op === 'recv') return { time_s: msg(bytes), messages: 1, bytes };
  if (n <= 1) return { time_s: 0, messages: 0, bytes: 0 };
  switch (op) {
    case 'bcast':
      if (bytes >= pipelining.minBytes && n > 2) return pipelinedBcast(bytes, n, link);
      return { time_s: treeDown(n, () => msg(bytes)), messages: n - 1, bytes: (n - 1) * bytes };
    case 'scatter':
      return { time_s: treeDown(n, (c) => msg(c * bytes)), messages: n - 1, bytes: bundleItems(n) * bytes };
    case 'gather':
      return { time_s: treeUp(n, (c) => msg(c * bytes)), messages: n - 1, bytes: bundleItems(n) * bytes };
    case 'reduce':
      return { time_s: treeUp(n, () => msg(bytes)), messages: n - 1, bytes: (n - 1) * bytes };
    case 'allreduce': {
      if (allreduce === 'ring' || (allreduce === 'auto' && bytes >= RING_MIN_BYTES && n > 2)) {
        const steps = 2 * (n - 1);
        const block = Math.ceil(bytes / n);
        return { time_s: steps * msg(block), messages: n * steps, bytes: n * steps * (bytes / n) };
      }
      const p = 2 ** Math.floor(Math.log2(n));
      const rem = n - p;
      const rounds = Math.log2(p) + (rem > 0 ? 2 : 0);
      const messages = p * Math.log2(p) + 2 * rem;
      return { time_s: rounds * msg(bytes), messages, bytes: messages * bytes };
    }
    case 'scan': {
      const messages = scanMessages(n);
      return { time_s: ceilLog2(n) * msg(bytes), messages, bytes: messages * bytes };
    }
    case 'barrier': {
      const rounds = ceilLog2(n);
      return { time_s: rounds * msg(0), messages: n * rounds, bytes: 0 };
    }
  }
}

/**
 * The segmented bcast: the root sends a header to each child, then k =
 * ceil(m / SEGMENT_BYTES) segments, each to every child in turn; every rank
 * forwards a segment to its children as soon as it has it. The root's link
 * carries the most: its L = ceil(log2 n) children times the m bytes; the
 * last segment then still goes down the L - 1 levels below the root's
 * first child. The latency is paid once per level, not per segment: a rank
 * that forwards a stream does not wait a round trip for each part of it.
 * `messages` counts one per edge, as for the whole message: what it prices
 * (the rendezvous VM's share per transfer) does not grow with how a
 * transfer is cut up.
 */
function pipelinedBcast(bytes: number, n: number, link: LinkParams): P2pTraffic {
  const seg = Math.min(SEGMENT_BYTES, bytes);
  const levels = ceilLog2(n);
  return { time_s: levels * link.alpha + (levels * bytes + (levels - 1) * seg) / link.beta, messages: n - 1, bytes: (n - 1) * bytes };
}

export function ceilLog2(n: number): number {
  let r = 0;
  while (2 ** r < n) r++;
  return r;
}

/**
 * Subtree sizes of the children of a binomial tree's root over `s` ranks,
 * largest mask first: child rel = mask covers ranks [mask, min(2 mask, s)).
 */
function childSizes(s: number): number[] {
  const out: number[] = [];
  let mask = 1;
  while (mask < s) mask <<= 1;
  for (mask >>= 1; mask >= 1; mask >>= 1) out.push(Math.min(mask, s - mask));
  return out;
}

/**
 * Time until every rank of an `s`-rank subtree has its data, from when its
 * root has it: the root sends to its children one after another (largest
 * subtree first), `send(c)` being the time of the message to a child whose
 * subtree has c ranks.
 */
function treeDown(s: number, send: (c: number) => number, memo = new Map<number, number>()): number {
  if (s <= 1) return 0;
  const hit = memo.get(s);
  if (hit !== undefined) return hit;
  let clock = 0;
  let done = 0;
  for (const c of childSizes(s)) {
    clock += send(c);
    done = Math.max(done, clock + treeDown(c, send, memo));
  }
  memo.set(s, done);
  return done;
}

/** Time until the root of an `s`-rank subtree has heard from all of it: children send once complete. */
function treeUp(s: number, send: (c: number) => number, memo = new Map<number, number>()): number {
  if (s <= 1) return 0;
  const hit = memo.get(s);
  if (hit !== undefined) return hit;
  let done = 0;
  for (const c of childSizes(s)) done = Math.max(done, treeUp(c, send, memo) + send(c));
  memo.set(s, done);
  return done;
}

/** Items carried by all bundles of a binomial gather or scatter over `s` ranks: each edge carries its subtree. */
function bundleItems(s: number, memo = new Map<number, number>()): number {
  if (s <= 1) return 0;
  const hit = memo.get(s);
  if (hit !== undefined) return hit;
  let items = 0;
  for (const c of childSizes(s)) items += c + bundleItems(c, memo);
  memo.set(s, items);
  return items;
}

const scanMemo = new Map<number, number>();

/** Messages of the recursive-doubling scan: in round `mask`, rank r sends iff r ^ mask < n. */
function scanMessages(n: number): number {
  const hit = scanMemo.get(n);
  if (hit !== undefined) return hit;
  let total = 0;
  for (let mask = 1; mask < n; mask *= 2) {
    for (let r = 0; r < n; r++) if ((r ^ mask) < n) total++;
  }
  if (scanMemo.size > 256) scanMemo.clear();
  scanMemo.set(n, total);
  return total;
}
