import { allreduceBySize, allreduceTakesTree } from '../collectives/allreduce-choice.js';
import { barrierTakesTree } from '../collectives/barrier-choice.js';
import { binomialTree, STAR_MAX_BYTES, STAR_MAX_RANKS } from '../collectives/bcast.js';
import { pipelining, SEGMENT_BYTES } from '../collectives/bcast-pipelined.js';
import { knomialTree } from '../collectives/tree.js';
import type { LinkParams } from './params.js';
import type { DirectAllreduce, OpName } from './types.js';

/** What a peer-to-peer algorithm does: its completion time, its messages and their payload bytes. */
export interface P2pTraffic {
  time_s: number;
  messages: number;
  bytes: number;
  /** The algorithm priced (what the communicator runs for this op, size and rank count). */
  algorithm: string;
}

/** The direct channel as the model sees it: a message is `alpha + bytes / beta`; a rank's further messages of one round `gap + bytes / beta` apart. */
export interface DirectLink extends LinkParams {
  /** Seconds of CPU per message beyond the first that one rank sends or receives back to back. @default 0 */
  gap?: number;
  /**
   * One round of pairwise exchange with every rank sending and receiving at
   * once, as calibrated (it shows what ranks sharing a machine's cores cost
   * each other). @default alpha + gap + bytes / beta
   */
  exchange?: LinkParams;
  /**
   * Seconds of latency of a tree's hop inside a collective, every rank of
   * the job in it: on a machine whose cores the ranks share, a woken rank
   * waits for a core, and each hop carries the collective call's own cost.
   * Calibrated from the barrier (collective_overhead). @default alpha
   */
  alphaColl?: number;
  /**
   * Seconds of latency of a hop of the barrier's tree: no payload, no fold,
   * no result, so less than a hop of a collective that carries data
   * (alphaColl). Calibrated from the barrier (barrier_overhead). @default
   * alphaColl
   */
  alphaBarrier?: number;
  /**
   * Seconds from the root's call until the last other rank has a small
   * message the root sent to all of them at once, right after a barrier:
   * the star bcast's one step. Calibrated from that pattern
   * (fanout_overhead). @default alphaColl
   */
  alphaFan?: number;
}

/** The latency of a hop inside a collective. */
function hopOf(link: DirectLink): number {
  return link.alphaColl ?? link.alpha;
}

/** The link with the barrier's hop as the hop inside a collective. */
function barrierLink(link: DirectLink): DirectLink {
  return link.alphaBarrier === undefined ? link : { ...link, alphaColl: link.alphaBarrier };
}

/** The root's step to every other rank at once (the star bcast). */
function fanOf(link: DirectLink): number {
  return link.alphaFan ?? hopOf(link);
}

/**
 * Bytes per second of a tree's edge inside a collective: the exchange's
 * (every rank sending and receiving at once) when calibrated, else the
 * ping-pong's. With every rank of the job in the collective and sharing
 * the machine's cores, a rank's copies wait as its hops do: a 1 MiB bcast
 * on 4 ranks took 3.7 ms on a quiet 2-vCPU VM; its path is two edges of
 * 1 MiB and three hops, 4.7 ms at the exchange's 490 MB/s, 1 ms at the
 * ping-pong's 3970 MB/s; and without `into` its fresh result added only
 * 0.2 ms (calibrate's freshBcast): the time is the transfers'.
 */
function treeBeta(link: DirectLink): number {
  return link.exchange?.beta ?? link.beta;
}

/** Seconds of one round of pairwise exchange of b bytes: this rank's send and its receive, every rank at once. */
function roundOf(link: DirectLink): (b: number) => number {
  const x = link.exchange;
  const a = hopOf(link);
  return x ? (b) => x.alpha + b / x.beta : (b) => a + b / link.beta + (link.gap ?? 0);
}

/**
 * The direct channel runs the algorithms in src/collectives/ over
 * point-to-point messages of `u(b) = alpha + b / beta` seconds each. The
 * algorithm is chosen by the communicator's own functions and thresholds
 * (imported, never copied): allreduceBySize, allreduceTakesTree,
 * barrierTakesTree, pipelining.minBytes.
 *
 * Trees (bcast, reduce, gather, scatter, the small allreduce and the
 * barrier where they take the tree: more than 2 ranks) are priced edge by edge on the
 * very tree the collective builds (binomialTree, knomialTree), every edge
 * at the hop's latency and the bytes at treeBeta: a rank that
 * sends to k children gets its i-th message out `i (gap + b / beta)` after
 * the first (each needs its own CPU and its bytes written); a rank that
 * receives from k children takes them one after another, `gap` apart at
 * the least (fold). Rounds of pairwise exchange (recursive doubling, dissemination,
 * Rabenseifner, ring) take one message time each: every rank sends one and
 * receives one, and links are full duplex.
 */
export function directTraffic(op: OpName, bytes: number, ranks: number, link: DirectLink, allreduce: DirectAllreduce = 'auto'): P2pTraffic {
  const u = (b: number) => link.alpha + b / link.beta;
  const x = roundOf(link);
  const n = ranks;
  const m = bytes;
  if (op === 'send' || op === 'recv') return { time_s: u(m), messages: 1, bytes: m, algorithm: 'message' };
  if (n <= 1) return { time_s: 0, messages: 0, bytes: 0, algorithm: 'none' };
  switch (op) {
    case 'bcast':
      if (m >= pipelining.minBytes && n > 2) return pipelinedBcast(m, n, link);
      // bcast.ts: on few ranks a small payload goes out as a star, the root writing to every rank itself.
      // Its one step is the calibrated fan-out, plus the root's writes: they leave at once, the bytes apart.
      if (n <= STAR_MAX_RANKS && m <= STAR_MAX_BYTES) return { time_s: fanOf(link) + ((n - 1) * m) / treeBeta(link), messages: n - 1, bytes: (n - 1) * m, algorithm: 'star' };
      return binomialBcast(m, n, link);
    case 'scatter':
      // scatter.ts sends to its children at once (Promise.all): no gap between them.
      return { time_s: treeDown(binomialDown(n), link, (c) => subtree(n, c) * m, 0, 0), messages: n - 1, bytes: bundleItems(n) * m, algorithm: 'binomial' };
    case 'gather':
      return { time_s: treeUp(binomialDown(n), link, (c) => subtree(n, c) * m), messages: n - 1, bytes: bundleItems(n) * m, algorithm: 'binomial' };
    case 'reduce':
      // reduceBinomial: children heard smallest subtree first, the reverse of the bcast's send order.
      return { time_s: treeUp((r) => binomialDown(n)(r).reverse(), link, () => m), messages: n - 1, bytes: (n - 1) * m, algorithm: 'binomial' };
    case 'allreduce':
      return allreduceTraffic(m, n, link, allreduce);
    case 'scan': {
      const messages = scanMessages(n);
      return { time_s: ceilLog2(n) * x(m), messages, bytes: messages * m, algorithm: 'recursive-doubling' };
    }
    case 'barrier': {
      const b = barrierLink(link);
      if (barrierTakesTree(n)) return knomialRoundTrip(n, 0, b, 'tree');
      const rounds = ceilLog2(n);
      return { time_s: rounds * roundOf(b)(0), messages: n * rounds, bytes: 0, algorithm: 'dissemination' };
    }
  }
}

function allreduceTraffic(m: number, n: number, link: DirectLink, asked: DirectAllreduce): P2pTraffic {
  // One round of pairwise exchange: this rank's send and its receive (without a calibrated round: a gap apart).
  const u = roundOf(link);
  const algorithm = asked === 'auto' ? allreduceBySize(m, n) : asked;
  const p = 2 ** Math.floor(Math.log2(n));
  const rem = n - p;
  const steps = Math.log2(p);
  if (algorithm === 'ring') {
    const stepsRing = 2 * (n - 1);
    return { time_s: stepsRing * u(m / n), messages: n * stepsRing, bytes: 2 * (n - 1) * m, algorithm };
  }
  if (algorithm === 'rabenseifner') {
    // Halving then doubling over the p ranks: blocks m/2, m/4, ..., m/p each way; the other rem fold in and get the result whole.
    let time = 0;
    for (let k = 1; k <= steps; k++) time += 2 * u(m / 2 ** k);
    if (rem > 0) time += 2 * u(m);
    return { time_s: time, messages: 2 * p * steps + 2 * rem, bytes: 2 * (p - 1) * m + 2 * rem * m, algorithm };
  }
  // The recursive-doubling branch: the communicator takes the k-nomial tree on small buffers over more than 2 ranks.
  if (allreduceTakesTree(m, n)) return knomialRoundTrip(n, m, link, 'tree');
  const rounds = steps + (rem > 0 ? 2 : 0);
  const messages = p * steps + 2 * rem;
  return { time_s: rounds * u(m), messages, bytes: messages * m, algorithm: 'recursive-doubling' };
}

/** Up the k-nomial tree rooted at 0 and back down (allreduce-tree.ts, barrier-tree.ts): 2 (n - 1) messages of m bytes. */
function knomialRoundTrip(n: number, m: number, link: DirectLink, algorithm: string): P2pTraffic {
  const children = (r: number) => knomialTree(r, 0, n).children;
  // Received in rank order (allreduce-tree folds them so); sent largest subtree first, the reverse.
  const time = treeUp(children, link, () => m) + treeDown((r) => [...children(r)].reverse(), link, () => m);
  return { time_s: time, messages: 2 * (n - 1), bytes: 2 * (n - 1) * m, algorithm };
}

/**
 * The binomial bcast (bcast.ts). On at most STAR_MAX_RANKS ranks only the
 * root knows the payload is too large for the star, so it first tells the
 * ranks whose parent it is not to wait for their parent (an empty message
 * each, the RELAYED kind) and waits for those sends to complete before it
 * writes to its children. Waiting yields the root's core to the ranks its
 * notices woke; getting it back is a hop's latency inside the collective.
 */
function binomialBcast(m: number, n: number, link: DirectLink): P2pTraffic {
  const children = binomialDown(n);
  const relayed = n <= STAR_MAX_RANKS ? Array.from({ length: n - 1 }, (_, i) => i + 1).filter((r) => binomialTree(r, 0, n).parent !== 0) : [];
  // The notices go out at once (Promise.all), as do the payloads to the children.
  const notices = relayed.length > 0 ? hopOf(link) : 0;
  const time = treeDown(children, link, () => m, notices, 0);
  return { time_s: time, messages: n - 1 + relayed.length, bytes: (n - 1) * m, algorithm: 'binomial' };
}

/** Children of a rank in the binomial tree rooted at 0 (bcast.ts), largest subtree first: the order the bcast sends in. */
function binomialDown(n: number): (r: number) => number[] {
  return (r) => binomialTree(r, 0, n).children;
}

/** Ranks in the binomial subtree of rank c (root 0) over n ranks: c's lowest set bit, cut at n. */
function subtree(n: number, c: number): number {
  return Math.min(c & -c, n - c);
}

/**
 * Time from the root having the data until every rank has it. A rank that
 * got it at t sends to its children in `order(rank)`: the i-th (from 0)
 * arrives at t + alpha + sum_{k <= i} b_k / beta + i gap (alpha: the hop
 * inside a collective). The root starts `rootDelay` late. `gap`: between
 * a rank's sends when it awaits each before the next (the tree barrier and
 * allreduce); sends made at once (Promise.all: the bcasts) pass 0, their
 * writes leaving in one turn of the rank's event loop, the bytes apart.
 */
export function treeDown(order: (r: number) => number[], link: DirectLink, bytesTo: (child: number) => number, rootDelay = 0, gap = link.gap ?? 0): number {
  const alpha = hopOf(link);
  const beta = treeBeta(link);
  let done = 0;
  const visit = (r: number, t: number) => {
    done = Math.max(done, t);
    let clock = t + alpha;
    for (const [i, c] of order(r).entries()) {
      clock += bytesTo(c) / beta + (i > 0 ? gap : 0);
      visit(c, clock);
    }
  };
  visit(0, rootDelay);
  return done;
}

/**
 * Time until the root has heard from its whole tree. A child's message
 * arrives `alpha + b / beta` after the child's subtree is done; the rank
 * takes its children's messages in `order(rank)`, each at the earliest
 * `gap` after the one before (fold). Two children's bytes arriving at the
 * same moment are not made to share the receiver's link (its writes, in
 * treeDown, are: the sender's copy is CPU of its own).
 */
export function treeUp(order: (r: number) => number[], link: DirectLink, bytesFrom: (child: number) => number): number {
  const gap = link.gap ?? 0;
  const alpha = hopOf(link);
  const beta = treeBeta(link);
  const up = (r: number): number => fold(order(r).map((c) => up(c) + alpha + bytesFrom(c) / beta), gap);
  return up(0);
}

/** Messages taken in the order given: the i-th at max(its arrival, the previous one's + gap); 0 for none. */
export function fold(arrivals: readonly number[], gap: number): number {
  let t = 0;
  for (const [i, a] of arrivals.entries()) t = i === 0 ? a : Math.max(a, t + gap);
  return t;
}

/**
 * The segmented bcast: the root sends a header to each child, then k =
 * ceil(m / SEGMENT_BYTES) segments, each to every child in turn; every rank
 * forwards a segment to its children as soon as it has it. The root's link
 * carries the most: its L = ceil(log2 n) children times the m bytes; the
 * last segment then still goes down the L - 1 levels below the root's
 * first child. The latency is paid once per level, not per segment.
 * `messages` counts one per edge, as for the whole message: what it prices
 * (the rendezvous VM's share per transfer) does not grow with how a
 * transfer is cut up.
 */
function pipelinedBcast(bytes: number, n: number, link: DirectLink): P2pTraffic {
  const seg = Math.min(SEGMENT_BYTES, bytes);
  const levels = ceilLog2(n);
  return { time_s: levels * hopOf(link) + (levels * bytes + (levels - 1) * seg) / treeBeta(link), messages: n - 1, bytes: (n - 1) * bytes, algorithm: 'pipelined' };
}

export function ceilLog2(n: number): number {
  let r = 0;
  while (2 ** r < n) r++;
  return r;
}

/** Items carried by all bundles of a binomial gather or scatter over n ranks: each edge carries its subtree. */
function bundleItems(n: number): number {
  let items = 0;
  for (let c = 1; c < n; c++) items += subtree(n, c);
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
