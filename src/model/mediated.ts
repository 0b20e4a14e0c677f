import { pollWait } from './polling.js';
import type { Backoff, OpName } from './types.js';

/**
 * A storage channel as the model sees it. `alpha` and `beta` describe one
 * point-to-point message end to end (how the reference uses its `overhead`
 * and `bandwidth`: a send costs overhead + bytes / bandwidth). A mediated
 * message is a write followed by a read, so each of the two legs gets half:
 * `alpha / 2 + bytes / (2 beta)`.
 */
export interface StoreLink {
  alpha: number;
  /** Bytes per second of one rank's transfers (they share its connection). */
  beta: number;
  /** Bytes per second the service moves in total (Redis: bandwidth_multiple; S3: Infinity). */
  betaTotal: number;
  /** Readers poll (S3) instead of blocking (Redis). */
  polling?: Backoff;
  /** Seconds per further request when one rank makes several in a phase, one after another. @default 0 */
  gap?: number;
  /**
   * `alpha` while every rank makes requests at once (the service, and the
   * cores of a machine shared by the ranks, busy with all of them): a phase
   * where more than one rank has requests in flight. @default alpha
   */
  alphaAll?: number;
  /**
   * Seconds of a bcast's latency: the root's write of a small value and
   * every other rank's read of it, right after a barrier, timed as a bcast
   * is (Redis: fanout_overhead). @default alpha / 2 for the write, alphaAll / 2 for the reads
   */
  alphaFan?: number;
  /**
   * A fan-in as a whole (Redis: fanin_overhead, fanin_bandwidth): every
   * other rank sending the root a message of `bytes` at once, right after
   * a barrier, until the root has them all: `alpha + bytes / beta`. The
   * first phase of a gather, reduce, allreduce and barrier. @default the
   * writes, then the root's reads one after another
   */
  fanIn?: { alpha: number; beta: number };
}

export interface StoreTraffic {
  time_s: number;
  puts: number;
  gets: number;
  polls: number;
  /** Payload bytes written plus payload bytes read. */
  bytes: number;
}

/**
 * The mediated algorithms of the storage channels, for n ranks and m bytes:
 *
 * - send: one write, one read;
 * - bcast: the root writes once, n - 1 ranks read it;
 * - scatter: the root writes n - 1 parts, each rank reads its own;
 * - gather, reduce: n - 1 ranks write, the root reads the n - 1 parts;
 * - allreduce: reduce to one rank, then bcast of the result;
 * - scan: ranks 0..n-2 write, rank r reads the r parts below it;
 * - barrier: an allreduce of nothing (n - 1 markers to one rank, one release).
 *
 * Every phase is a set of concurrent legs: a phase takes alpha / 2 plus its
 * bytes over the bandwidth, bounded by the busiest rank (its legs share its
 * connection at 2 beta) and by the service as a whole (2 betaTotal):
 *
 *   leg(rankBytes, totalBytes) = alpha/2 + max(rankBytes / 2beta, totalBytes / 2betaTotal)
 *
 * All ranks enter the operation together; readers block (Redis) or poll
 * (S3, see pollWait) from the moment they start waiting.
 *
 * Where one rank makes several requests in a phase (the root of a scatter
 * writing n - 1 parts; the root of a gather, reduce, allreduce or barrier
 * reading n - 1; the last rank of a scan reading n - 1), they are not all
 * at once: they come `gap` apart (that rank's CPU and its connection),
 * which adds (n - 2) gap. The n - 1 readers of one value (bcast, the
 * result of an allreduce) are n - 1 ranks, each making one request: no gap.
 */
export function storeTraffic(op: OpName, bytes: number, ranks: number, link: StoreLink): StoreTraffic {
  const m = bytes;
  const n = ranks;
  const gap = link.gap ?? 0;
  // Phases with several ranks busy at once take alphaAll: n - 1 ranks reading one value (woken together),
  // and on S3 every phase of a collective (its readers poll meanwhile, and a rank's requests run side by side).
  const alphaAll = n > 2 && op !== 'send' && op !== 'recv' ? (link.alphaAll ?? link.alpha) : link.alpha;
  // n - 1 writers, or one rank's n - 1 requests: on Redis one after another, `gap` apart; on S3 side by side.
  const alphaFan = link.polling ? alphaAll : link.alpha;
  const alphaWrite = alphaFan;
  const leg = (rankBytes: number, totalBytes: number, alpha = alphaAll) =>
    alpha / 2 + Math.max(rankBytes / (2 * link.beta), totalBytes / (2 * link.betaTotal));
  const wait = (seconds: number) => (link.polling ? pollWait(seconds, alphaAll / 2, link.polling) : { polls: 0, lag_s: 0 });

  /** One phase of writes, then one of reads by `readers` ranks that started waiting `waitedBefore` s earlier. */
  const phase = (write: number, read: number, readers: number, waitedBefore = 0) => {
    const w = wait(waitedBefore + write);
    return { time: write + w.lag_s + read, polls: readers * w.polls };
  };

  if (op === 'send' || op === 'recv') {
    const p = phase(leg(m, m), leg(m, m), 1);
    return { time_s: p.time, puts: 1, gets: 1, polls: p.polls, bytes: 2 * m };
  }
  if (n <= 1) return { time_s: 0, puts: 0, gets: 0, polls: 0, bytes: 0 };
  const r = n - 1;
  /** One rank's r requests of a phase, one after another (Redis: one connection); S3 sends them at once. */
  const fan = link.polling ? 0 : (r - 1) * gap;
  /** The calibrated fan-in (Redis), when there is one: it holds the writes, the reads and the root's gaps. */
  const fanIn = link.fanIn && !link.polling ? (b: number) => link.fanIn!.alpha + b / link.fanIn!.beta : undefined;
  switch (op) {
    case 'bcast': {
      // Calibrated as a whole (Redis): the two legs' latencies are the fan-out, their bytes as below.
      if (link.alphaFan !== undefined && !link.polling) return { time_s: link.alphaFan + leg(m, m, 0) + leg(m, r * m, 0), puts: 1, gets: r, polls: 0, bytes: m + r * m };
      // One writer; on S3 the n - 1 readers poll meanwhile.
      const p = phase(leg(m, m, alphaWrite), leg(m, r * m), r);
      return { time_s: p.time, puts: 1, gets: r, polls: p.polls, bytes: m + r * m };
    }
    case 'scatter': {
      const p = phase(leg(r * m, r * m, alphaFan), leg(m, r * m), r);
      return { time_s: p.time + fan, puts: r, gets: r, polls: p.polls, bytes: 2 * r * m };
    }
    case 'gather':
    case 'reduce': {
      if (fanIn) return { time_s: fanIn(m), puts: r, gets: r, polls: 0, bytes: 2 * r * m };
      // The root polls each of the n - 1 keys.
      const p = phase(leg(m, r * m, alphaFan), leg(r * m, r * m, alphaFan), r);
      return { time_s: p.time + fan, puts: r, gets: r, polls: p.polls, bytes: 2 * r * m };
    }
    case 'allreduce':
    case 'barrier': {
      const size = op === 'barrier' ? 0 : m;
      const upWrite = leg(size, r * size, alphaFan);
      const up = phase(upWrite, leg(r * size, r * size, alphaFan), r);
      // Rank 0's reads of the n - 1 parts (Redis: one after another), or the calibrated fan-in as a whole.
      const upTime = fanIn ? fanIn(size) : up.time + fan;
      // The others wait for the result from the end of their own write.
      const downWrite = leg(size, size, alphaWrite);
      const w = wait(upTime - upWrite + downWrite);
      const time = upTime + downWrite + w.lag_s + leg(size, r * size);
      return { time_s: time, puts: n, gets: 2 * r, polls: up.polls + r * w.polls, bytes: 2 * r * size + n * size };
    }
    case 'scan': {
      const reads = (n * r) / 2;
      const p = phase(leg(m, r * m, alphaFan), leg(r * m, reads * m, alphaFan), reads);
      return { time_s: p.time + fan, puts: r, gets: reads, polls: p.polls, bytes: r * m + reads * m };
    }
  }
}
