import type { ChannelName, DirectModel, RedisModel, S3Model } from '../config/types.js';
import { FmiError } from '../errors.js';
import { fitLink, type LinkFit, type TimePoint } from './fit.js';
import { MB } from './params.js';

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
  channel: ChannelName;
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
}

/** Model fields calibration sets, in the config's units (ms, MB/s). */
export interface ModelPatch {
  Direct?: Pick<DirectModel, 'overhead' | 'bandwidth'>;
  Redis?: Pick<RedisModel, 'overhead' | 'bandwidth_single' | 'bandwidth_multiple'>;
  S3?: Pick<S3Model, 'overhead' | 'bandwidth'>;
}

/** How a channel's numbers were obtained: the fit, and the points it was fitted to (seconds). */
export interface ChannelFit {
  channel: ChannelName;
  source: 'exchange' | 'pingpong' | 'legs';
  fit: LinkFit;
  points: TimePoint[];
  /** Redis: the aggregate bandwidth seen with every rank transferring at once, bytes/s. */
  betaTotal?: number;
}

/**
 * What a channel's `overhead` and `bandwidth` are fitted to:
 *
 * - direct: the exchange, every rank sending and receiving at once. The
 *   model's message time is meant for the rounds of a collective, where
 *   every rank is busy (an exchange takes one message time); on a machine
 *   with fewer cores than ranks that time is not the time of a ping-pong
 *   between two ranks while the others sleep. With two ranks, or when the
 *   exchange was not measured, the ping-pong.
 * - redis: the ping-pong. A message is a write and a blocking read that
 *   wakes the receiver (the model's two legs, alpha/2 + bytes/2beta each,
 *   and no lag): what the collectives chain from rank to rank. Rank 0
 *   writing and reading its own value never waits for another process and
 *   shows only the requests' own time (kept in the results as `legs`).
 *   bandwidth_multiple: the bytes every rank wrote and read at once, over
 *   the slowest rank's time beyond the latency.
 * - s3: a write and a read of one value, each request timed on its own.
 *   Readers poll, and the model adds the polling itself (S3_BACKOFF): timing
 *   the read after the write is done keeps it out of alpha and beta.
 */
export function fitChannel(m: ChannelMeasurements): ChannelFit {
  if (m.channel === 'direct' || m.channel === 'redis') {
    const useExchange = m.channel === 'direct' && m.ranks > 2 && m.exchange.length > 0;
    const samples = useExchange ? m.exchange : m.pingpong;
    const points = samples.map((s) => ({ bytes: s.bytes, seconds: s.seconds }));
    if (points.length === 0) throw noData(m.channel);
    const fit = fitLink(points);
    const out: ChannelFit = { channel: m.channel, source: useExchange ? 'exchange' : 'pingpong', fit, points };
    if (m.channel === 'redis') {
      // From the largest size every rank moved at once: N writes and N reads of m bytes.
      const big = m.legsAll.reduce<LegSample | undefined>((a, l) => (!a || l.bytes > a.bytes ? l : a), undefined);
      const busy = big ? big.put + big.get - fit.alpha : 0;
      const total = big && busy > 0 ? (m.ranks * big.bytes) / busy : 0;
      out.betaTotal = Math.max(fit.beta, total);
    }
    return out;
  }
  const points = m.legs.map((l) => ({ bytes: l.bytes, seconds: l.put + l.get }));
  if (points.length === 0) throw noData(m.channel);
  return { channel: m.channel, source: 'legs', fit: fitLink(points), points };
}

/** The config's model fields from the fits (ms and MB/s, rounded to 3 significant digits). */
export function modelPatch(fits: readonly ChannelFit[]): ModelPatch {
  const patch: ModelPatch = {};
  for (const f of fits) {
    const overhead = sig3(f.fit.alpha * 1000);
    const bandwidth = mbps(f.fit.beta);
    if (f.channel === 'direct') patch.Direct = { overhead, bandwidth };
    else if (f.channel === 's3') patch.S3 = { overhead, bandwidth };
    else patch.Redis = { overhead, bandwidth_single: bandwidth, bandwidth_multiple: mbps(f.betaTotal ?? f.fit.beta) };
  }
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

function noData(channel: ChannelName): FmiError {
  return new FmiError('FMI_CHANNEL', `calibration of ${channel} measured nothing`, { op: 'calibrate', channel });
}
