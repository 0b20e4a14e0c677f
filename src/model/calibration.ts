import type { DirectModel, FaasModel, RedisModel, S3Model, ShmModel } from '../config/types.js';
import { FmiError } from '../errors.js';
import { directTraffic } from './direct.js';
import { fitFanIn } from './fanin.js';
import { fitLink, median, type LinkFit, type TimePoint } from './fit.js';
import { MB, MIB } from './params.js';
import type { ModelChannel } from './types.js';

/** A measured pattern at one size: median seconds per sample, and how many samples. */
export interface Sample {
  bytes: number;
  seconds: number;
  iters: number;
}

/** A storage channel's write and read of one value, median seconds each. */
export interface LegSample {
  bytes: number;
  put: number;
  get: number;
  iters: number;
}

/** What `fmi calibrate` measured on one channel (written by its rank 0). */
export interface ChannelMeasurements {
  /** 'shm': the direct channel's job run as threads of one process (fmi calibrate --threads). */
  channel: ModelChannel;
  ranks: number;
  /** Load average (1, 5, 15 min) when the ranks started. */
  load: number[];
  /** Half round trips between ranks 0 and 1, the other ranks waiting. */
  pingpong: Sample[];
  /** Every rank swapping a message with a partner at once: the slowest rank's time. */
  exchange: Sample[];
  /** Storage: rank 0 writes a value, then reads it back (no wait, so no polling). */
  legs: LegSample[];
  /** Storage: every rank does the same at once; the slowest rank's write and read. */
  legsAll: LegSample[];
  /**
   * `bytes` (here: a count) 8-byte messages to rank 0 at once, dealt
   * round-robin from ranks 1..n-1; rank 0 takes them all and answers each
   * sender: the slowest sender's time from its first send to the answer.
   * A count of 1 is a round trip.
   */
  burst?: Sample[];
  /**
   * Fresh memory, measured in one job only, the slowest rank's seconds: on
   * the direct channel an allreduce of `bytes` without `into` (put) and
   * with it (get); on other channels every rank at once allocating a new
   * array of `bytes` and writing it (put), and writing the same bytes into
   * an array it already has (get).
   */
  fresh?: LegSample[];
  /** Direct channel: the bcast without `into` (put) against with it (get), as `fresh` times the allreduce. Not fitted: a result the socket fills costs next to nothing new. */
  freshBcast?: LegSample[];
  /** Every rank in a barrier, back to back: the slowest rank's time per barrier (bytes 0). */
  barrier?: Sample[];
  /** Every rank in an allreduce of `bytes` (Float64Array, SUM), back to back: the slowest rank's time per call. direct, shm: 8 bytes (the k-nomial tree), timed in turn with the barrier; redis: the plan's sizes (the fan-in's source, fitFanIn). */
  allreduce?: Sample[];
  /** After a barrier, rank 0 sending 8 bytes to every other rank at once: from the later of a rank's and the root's call to having it, the slowest rank. */
  fanout?: Sample[];
  /** Storage: after a barrier, every other rank sending rank 0 `bytes` at once: rank 0's time to having them all from the latest of its and the senders' calls. */
  fanin?: Sample[];
  /** The warm-up before anything was timed (rank 0's rounds and ms), when the plan had one. */
  warm?: { rounds: number; ms: number };
}

/** Model fields calibration sets, in the config's units (ms, MB/s). */
export interface ModelPatch {
  Direct?: Pick<DirectModel, 'overhead' | 'bandwidth'> & Partial<Pick<DirectModel, 'gap' | 'exchange_overhead' | 'exchange_bandwidth' | 'collective_overhead' | 'barrier_overhead' | 'fanout_overhead'>>;
  Redis?: Pick<RedisModel, 'overhead' | 'bandwidth_single' | 'bandwidth_multiple'> & Partial<Pick<RedisModel, 'gap' | 'overhead_multiple' | 'fanout_overhead' | 'fanin_overhead' | 'fanin_bandwidth'>>;
  S3?: Pick<S3Model, 'overhead' | 'bandwidth'> & Partial<Pick<S3Model, 'gap' | 'overhead_multiple'>>;
  Shm?: Pick<ShmModel, 'overhead' | 'bandwidth' | 'gap'> & Partial<Pick<ShmModel, 'exchange_overhead' | 'exchange_bandwidth' | 'collective_overhead' | 'barrier_overhead' | 'fanout_overhead'>>;
  FaaS?: Pick<FaasModel, 'fresh_memory'> & Partial<Pick<FaasModel, 'fresh_overhead'>>;
}

/** How a channel's numbers were obtained: the fit, and the points it was fitted to (seconds). */
export interface ChannelFit {
  channel: ModelChannel;
  source: 'pingpong' | 'legs';
  fit: LinkFit;
  points: TimePoint[];
  /** Redis: the aggregate bandwidth seen with every rank transferring at once, bytes/s. */
  betaTotal?: number;
  /** Seconds per further message one rank takes back to back (fitGap), 0 when not measured. */
  gap: number;
  /** direct, shm: the line fitted to the exchange (every rank sending and receiving at once), when measured. */
  exchange?: LinkFit;
  /** redis, s3: the latency fitted to every rank writing and reading at once (legsAll), when measured. */
  alphaAll?: number;
  /** direct, shm: the latency of a tree's hop inside a collective, solved from the small allreduce (else the barrier; fitHop), when measured. */
  alphaColl?: number;
  /** direct, shm: the latency of a hop of the barrier's tree, solved from the barrier when the allreduce was measured too. */
  alphaBarrier?: number;
  /** direct, shm, redis: the root's step to every other rank at once after a barrier (the fan-out's median), when measured. */
  alphaFan?: number;
  /** redis: the line fitted to the fan-in: from the allreduce timed back to back less its release (fitFanIn), else every other rank sending rank 0 a message at once after a barrier; when measured. */
  fanIn?: LinkFit;
}

/**
 * What a channel's `overhead` and `bandwidth` are fitted to:
 *
 * - direct and redis: the ping-pong, one message while the CPU is there
 *   for it. What a rank loses when it handles several messages in one
 *   round (a tree's root, both halves of an exchange, several readers of
 *   one Redis value) is the `gap`, from the burst (fitGap); the model adds
 *   it where the algorithm puts several messages on one rank. (The
 *   exchange, every rank swapping with a partner at once, stays in the
 *   results: the model's exchange round is overhead + gap.)
 * - redis, bandwidth_multiple: the bytes every rank wrote and read at
 *   once, over the slowest rank's time beyond the latency.
 * - s3: a write and a read of one value, each request timed on its own.
 *   Readers poll, and the model adds the polling itself (S3_BACKOFF): timing
 *   the read after the write is done keeps it out of alpha and beta.
 */
export function fitChannel(m: ChannelMeasurements): ChannelFit {
  let gap = fitGap(m.burst ?? []);
  if (m.channel === 'direct' || m.channel === 'shm' || m.channel === 'redis') {
    const points = m.pingpong.map((s) => ({ bytes: s.bytes, seconds: s.seconds }));
    if (points.length === 0) throw noData(m.channel);
    const fit = fitLink(points);
    if (m.channel !== 'redis') gap = capGap(gap, m, fit);
    const out: ChannelFit = { channel: m.channel, source: 'pingpong', fit, points, gap };
    if (m.channel !== 'redis' && m.exchange.length > 0) out.exchange = fitExchange(m.exchange, fit.beta);
    if (m.channel !== 'redis') Object.assign(out, hopsOf(m, { alpha: fit.alpha, beta: fit.beta, gap }));
    if (m.fanout?.length) out.alphaFan = Math.max(1e-6, median(m.fanout.map((s) => s.seconds)));
    if (m.channel === 'redis') {
      // From the largest size every rank moved at once: N writes and N reads of m bytes.
      const big = m.legsAll.reduce<LegSample | undefined>((a, l) => (!a || l.bytes > a.bytes ? l : a), undefined);
      const busy = big ? big.put + big.get - fit.alpha : 0;
      const total = big && busy > 0 ? (m.ranks * big.bytes) / busy : 0;
      out.betaTotal = Math.max(fit.beta, total);
      out.alphaAll = alphaAllOf(m);
      // The fan-in from the allreduce back to back when timed (fitFanIn), else as timed alone after a barrier.
      const link = { alpha: fit.alpha, beta: fit.beta, betaTotal: out.betaTotal, gap, alphaAll: out.alphaAll, alphaFan: out.alphaFan };
      const fromAllreduce = m.allreduce?.length ? fitFanIn(m.allreduce, m.ranks, link) : undefined;
      if (fromAllreduce) out.fanIn = fromAllreduce;
      else if (m.fanin?.length) out.fanIn = fitLink(m.fanin.map((s) => ({ bytes: s.bytes, seconds: s.seconds })), fit.beta);
    }
    return out;
  }
  const points = m.legs.map((l) => ({ bytes: l.bytes, seconds: l.put + l.get }));
  if (points.length === 0) throw noData(m.channel);
  return { channel: m.channel, source: 'legs', fit: fitLink(points), points, gap, alphaAll: alphaAllOf(m) };
}

/** The exchange's line is fitted to its sizes from this on, where a round's bytes count (fitExchange). */
export const EXCHANGE_FIT_MIN_BYTES = 65536;

/**
 * The round of pairwise exchange (exchange_overhead, exchange_bandwidth):
 * the line through the exchange's sizes from EXCHANGE_FIT_MIN_BYTES on
 * (all sizes when fewer than two are that large), least squares on the
 * relative error. The model uses the round for bytes: recursive doubling
 * from 16 KiB, Rabenseifner's halves and quarters, and its bandwidth for a
 * tree's edges (a bcast's 64 KiB and 1 MiB); below TREE_MAX_BYTES on up to
 * 32 ranks the small collectives take the tree, at collective_overhead.
 * The exchange's time is not a line: flat to 64 KiB, then steeper per byte
 * at 1 MiB than at 256 KiB (4 ranks on 2 vCPUs, in µs: 389, 372, 378, 361
 * at 8 B-64 KiB, 607 at 256 KiB, 2551 at 1 MiB). Fitted over all sizes, the
 * flat ones set the intercept and the line priced 1 MiB at 0.73 of its
 * measurement (a bandwidth of 688 MB/s where 1 MiB's own was 483): the
 * model check's 1 MiB cells came out low.
 */
export function fitExchange(exchange: readonly Sample[], fallbackBeta: number): LinkFit {
  const big = exchange.filter((s) => s.bytes >= EXCHANGE_FIT_MIN_BYTES);
  return fitLink((big.length >= 2 ? big : exchange).map((s) => ({ bytes: s.bytes, seconds: s.seconds })), fallbackBeta);
}

/** The latency of a write and a read while every rank makes them at once: the intercept of the line through legsAll. */
function alphaAllOf(m: ChannelMeasurements): number | undefined {
  const pts = m.legsAll.map((l) => ({ bytes: l.bytes, seconds: l.put + l.get }));
  return pts.length > 0 ? fitLink(pts).alpha : undefined;
}

/**
 * The hops inside a collective. With the small allreduce measured: the
 * hop of a collective that carries data (alphaColl) from it, the
 * barrier's (alphaBarrier) from the barrier. A barrier has no payload, no
 * fold and no result: on 4 ranks on 2 vCPUs (one job, `chrt -r 1`) it took
 * 178 us where an 8-byte allreduce on the same tree took 220 us, and the
 * model's allreduce priced from the barrier's hop came out 0.6-0.8 of the
 * measured. Without the allreduce (an older rank script): alphaColl from
 * the barrier.
 */
function hopsOf(m: ChannelMeasurements, link: { alpha: number; beta: number; gap: number }): Pick<ChannelFit, 'alphaColl' | 'alphaBarrier'> {
  const barrier = m.barrier?.length ? fitHop(median(m.barrier.map((s) => s.seconds)), m.ranks, link) : undefined;
  const small = m.allreduce?.[0];
  if (small === undefined) return barrier === undefined ? {} : { alphaColl: barrier };
  const alphaColl = fitHop(median(m.allreduce!.map((s) => s.seconds)), m.ranks, link, 'allreduce', small.bytes);
  return barrier === undefined ? { alphaColl } : { alphaColl, alphaBarrier: barrier };
}

/**
 * The latency of a tree's hop inside a collective: the alphaColl at which
 * the model's own `op` of `bytes` over n ranks (directTraffic, the
 * algorithm the communicator runs, with the ping-pong's beta and the
 * burst's gap; by default the barrier) takes the measured time. Ranks
 * that share a machine's cores wait for one when they are woken, and
 * every hop carries the collective call's own cost: a ping-pong between
 * two ranks with a core each sees neither. Bisection (the op's time grows
 * with the hop's). When the gaps alone already exceed the measured time, a
 * microsecond (0 would read as not calibrated).
 */
export function fitHop(seconds: number, ranks: number, link: { alpha: number; beta: number; gap: number }, op: 'barrier' | 'allreduce' = 'barrier', bytes = 0): number {
  const at = (a: number) => directTraffic(op, bytes, ranks, { ...link, alphaColl: a }).time_s;
  if (!(seconds > 0) || at(0) >= seconds) return 1e-6;
  let lo = 0;
  let hi = seconds;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (at(mid) < seconds) lo = mid;
    else hi = mid;
  }
  return Math.max(1e-6, (lo + hi) / 2);
}

/**
 * direct, shm: the burst's gap, at most what the collectives timed in the
 * same job leave room for: the largest gap at which the model's small
 * allreduce (and barrier), with every hop at the ping-pong's alpha, take
 * no longer than measured. A burst timed under a spike of load gave a gap
 * of 0.34 ms where the 8-byte allreduce took 0.62 ms: the allreduce's 4
 * gaps alone were 1.36 ms, fitHop could only answer its floor (1 µs), and
 * the model priced the 1 KiB allreduce at 2.4x the check's measurement.
 */
export function capGap(gap: number, m: ChannelMeasurements, link: { alpha: number; beta: number }): number {
  const small = m.allreduce?.[0];
  const ops: ['allreduce' | 'barrier', number, number][] = [];
  if (small) ops.push(['allreduce', small.bytes, median(m.allreduce!.map((s) => s.seconds))]);
  if (m.barrier?.length) ops.push(['barrier', 0, median(m.barrier.map((s) => s.seconds))]);
  let g = gap;
  for (const [op, bytes, seconds] of ops) {
    const at = (x: number) => directTraffic(op, bytes, m.ranks, { ...link, gap: x, alphaColl: link.alpha }).time_s;
    if (!(seconds > 0) || at(g) <= seconds) continue;
    let lo = 0;
    let hi = g;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (at(mid) <= seconds) lo = mid;
      else hi = mid;
    }
    g = lo;
  }
  return g;
}

/**
 * The gap from bursts of k messages (`bytes` is k): the time grows by one
 * gap per further message, so the slope of time over k, least squares;
 * 0 when it does not grow (or fewer than two counts were measured).
 */
export function fitGap(burst: readonly Sample[]): number {
  const ok = burst.filter((s) => Number.isFinite(s.seconds) && s.seconds > 0 && s.bytes >= 1);
  if (new Set(ok.map((s) => s.bytes)).size < 2) return 0;
  const mk = ok.reduce((a, s) => a + s.bytes, 0) / ok.length;
  const mt = ok.reduce((a, s) => a + s.seconds, 0) / ok.length;
  let sxy = 0;
  let sxx = 0;
  for (const s of ok) {
    sxy += (s.bytes - mk) * (s.seconds - mt);
    sxx += (s.bytes - mk) ** 2;
  }
  return Math.max(0, sxy / sxx);
}

/** Fresh memory's cost: seconds per new result and per byte of it. */
export interface FreshFit {
  perCall: number;
  perByte: number;
}

/**
 * Fresh memory's cost from (new array and write it) minus (write an array
 * already there) at each size: the line through those differences
 * (fitLink, least squares on the relative error), its intercept per result
 * and its slope per byte. A call's new result costs more than its pages
 * (the allocation, the collector): 0.35 ms at 64 KiB, 1.6 ms at 256 KiB,
 * 2.9 ms at 1 MiB (4 ranks on 2 vCPUs), which a slope through the origin,
 * set by the largest size, priced at a fifth at 64 KiB. Sizes where the
 * new array cost nothing extra are left out; none left: 0 and 0.
 */
export function fitFresh(fresh: readonly LegSample[]): FreshFit {
  const points = fresh.filter((f) => f.bytes > 0 && f.put - f.get > 0).map((f) => ({ bytes: f.bytes, seconds: f.put - f.get }));
  if (points.length === 0) return { perCall: 0, perByte: 0 };
  const fit = fitLink(points);
  return { perCall: fit.alpha, perByte: Number.isFinite(fit.beta) ? 1 / fit.beta : 0 };
}

/** The config's model fields from the fits (ms and MB/s, rounded to 3 significant digits); fresh memory when measured. */
export function modelPatch(fits: readonly ChannelFit[], fresh?: FreshFit): ModelPatch {
  const patch: ModelPatch = {};
  for (const f of fits) {
    const overhead = sig3(f.fit.alpha * 1000);
    const bandwidth = mbps(f.fit.beta);
    const gap = sig3(f.gap * 1000);
    const exchange = f.exchange ? { exchange_overhead: sig3(f.exchange.alpha * 1000), exchange_bandwidth: mbps(f.exchange.beta) } : {};
    const multiple = f.alphaAll !== undefined ? { overhead_multiple: sig3(f.alphaAll * 1000) } : {};
    const hop = {
      ...(f.alphaColl !== undefined ? { collective_overhead: Math.max(0.001, sig3(f.alphaColl * 1000)) } : {}),
      ...(f.alphaBarrier !== undefined ? { barrier_overhead: Math.max(0.001, sig3(f.alphaBarrier * 1000)) } : {}),
      ...(f.alphaFan !== undefined ? { fanout_overhead: Math.max(0.001, sig3(f.alphaFan * 1000)) } : {}),
    };
    if (f.channel === 'direct') patch.Direct = { overhead, bandwidth, gap, ...exchange, ...hop };
    else if (f.channel === 'shm') patch.Shm = { overhead, bandwidth, gap, ...exchange, ...hop };
    else if (f.channel === 's3') patch.S3 = { overhead, bandwidth, gap, ...multiple };
    else {
      const fanIn = f.fanIn ? { fanin_overhead: sig3(f.fanIn.alpha * 1000), fanin_bandwidth: mbps(f.fanIn.beta) } : {};
      patch.Redis = { overhead, bandwidth_single: bandwidth, bandwidth_multiple: mbps(f.betaTotal ?? f.fit.beta), gap, ...multiple, ...(f.alphaFan !== undefined ? { fanout_overhead: Math.max(0.001, sig3(f.alphaFan * 1000)) } : {}), ...fanIn };
    }
  }
  if (fresh !== undefined) patch.FaaS = { fresh_memory: sig3(fresh.perByte * MIB * 1000), fresh_overhead: sig3(fresh.perCall * 1000) };
  return patch;
}

/** MB/s from bytes/s: finite and > 0 (the config requires it); an unmeasurably fast link gets 10^6 MB/s. */
function mbps(beta: number): number {
  if (!Number.isFinite(beta) || beta <= 0) return 1e6;
  return Math.min(1e6, sig3(beta / MB));
}

function sig3(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(3));
}

function noData(channel: ModelChannel): FmiError {
  return new FmiError('FMI_CHANNEL', `calibration of ${channel} measured nothing`, { op: 'calibrate', channel });
}
