import { describe, expect, it } from 'vitest';
import { allreduceAlgorithm, PAIRWISE_MAX_RANKS, RABENSEIFNER_MIN_BYTES } from '../src/collectives/allreduce-choice.js';
import { TREE_MAX_BYTES } from '../src/collectives/allreduce-tree.js';
import { STAR_MAX_BYTES, STAR_MAX_RANKS } from '../src/collectives/bcast.js';
import { TREE_MAX_RANKS, TREE_STAR_MAX_RANKS } from '../src/collectives/tree.js';
import { validateConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';
import { directTraffic, estimate, FRESH_MIN_BYTES, modelParams, type OpName } from '../src/model/index.js';
import { Op } from '../src/ops/op.js';

// The terms calibration adds to the reference's model, checked against hand computations:
// the per-message gap (Direct/Redis/S3.gap, ms) and fresh result memory (FaaS.fresh_memory, ms per MiB).
const A = 0.1e-3; // Direct.overhead 0.1 ms
const B = 500e6; // Direct.bandwidth 500 MB/s
const G = 0.02e-3; // Direct.gap 0.02 ms
const FRESH = 3; // ms per MiB
const MiB = 2 ** 20;
const DIRECT = { Direct: { enabled: true } };
const config = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.1, bandwidth: 500, gap: 0.02 }, Redis: { overhead: 1, gap: 0.3 }, FaaS: { fresh_memory: FRESH } } }, 'test');
const u = (b: number) => A + b / B;

function near(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-18);
}

const link = { alpha: A, beta: B, gap: G };
const t = (op: OpName, bytes: number, ranks: number) => directTraffic(op, bytes, ranks, link);

describe('model - the gap between one rank\'s messages (direct)', () => {
  it('reads the gap from the config, in ms', () => {
    expect(modelParams(config).direct.gap).toBeCloseTo(G, 12);
    expect(modelParams(config).redis.gap).toBeCloseTo(0.3e-3, 12);
    expect(modelParams(config).freshPerByte).toBeCloseTo(FRESH / 1000 / MiB, 18);
  });

  it('barrier on 4 ranks: a star (rank 0 takes 3 arrivals gap apart, writes 3 releases gap apart), or dissemination above TREE_MAX_RANKS', () => {
    const b = t('barrier', 0, 4);
    if (4 <= TREE_MAX_RANKS) {
      near(b.time_s, A + 2 * G + (A + 2 * G));
      expect(b).toMatchObject({ messages: 6, algorithm: 'tree' });
    } else {
      near(b.time_s, 2 * (A + G));
      expect(b.algorithm).toBe('dissemination');
    }
  });

  it('barrier and small allreduce on 2 ranks: one exchange (a send, and a receive a gap later), no tree', () => {
    const b = t('barrier', 0, 2);
    near(b.time_s, A + G);
    expect(b).toMatchObject({ messages: 2, algorithm: 'dissemination' });
    const a = t('allreduce', 8, 2);
    expect(a).toMatchObject({ messages: 2, algorithm: 'recursive-doubling' });
  });

  it('barrier on 16 ranks: dissemination (4 rounds of one exchange: a send, and a receive a gap later), or the star (up to TREE_STAR_MAX_RANKS), or the radix-4 tree of depth 2', () => {
    const b = t('barrier', 0, 16);
    if (16 > TREE_MAX_RANKS) {
      near(b.time_s, 4 * (A + G));
      expect(b.algorithm).toBe('dissemination');
    } else if (16 <= TREE_STAR_MAX_RANKS) {
      // Rank 0 takes 15 arrivals gap apart (the last at A + 14G), then writes 15 releases gap apart (the last at A + 14G).
      near(b.time_s, A + 14 * G + (A + 14 * G));
      expect(b).toMatchObject({ messages: 30, algorithm: 'tree' });
    } else {
      // Up: rank 0's children 1, 2, 3 (leaves) and 4, 8, 12 (each with 3 leaves: done at A + 2G, arriving at 2A + 2G);
      // taken in order: A, A + G, A + 2G, then 2A + 2G, max(2A + 2G, 2A + 3G), 2A + 4G.
      // Down: rank 0 writes to 12, 8, 4, 3, 2, 1; 4 gets it at A + 2G and passes on to 7, 6, 5: the last at 2A + 4G.
      near(b.time_s, 2 * A + 4 * G + (2 * A + 4 * G));
      expect(b).toMatchObject({ messages: 30, algorithm: 'tree' });
    }
  });

  it('small allreduce on 4 ranks: the star, up (3 arrivals at u(m), taken gap apart) and down (3 writes gap + m/beta apart)', () => {
    const m = 1024;
    const r = t('allreduce', m, 4);
    near(r.time_s, u(m) + 2 * G + (u(m) + 2 * (G + m / B)));
    expect(r).toMatchObject({ algorithm: 'tree', messages: 6, bytes: 6 * m });
    // Above TREE_MAX_BYTES the communicator leaves the tree: recursive doubling, no fan-in.
    const big = t('allreduce', TREE_MAX_BYTES + 8, 4);
    near(big.time_s, 2 * (u(TREE_MAX_BYTES + 8) + G));
    // Rabenseifner on 4 ranks: halving (m/2, m/4) and doubling (m/4, m/2), each step an exchange.
    const R = RABENSEIFNER_MIN_BYTES;
    near(t('allreduce', R, 4).time_s, 2 * (u(R / 2) + G + u(R / 4) + G));
    expect(big.algorithm).toBe('recursive-doubling');
  });

  it('bcast on 4 ranks above STAR_MAX_BYTES: rank 0 tells 3 to wait for its parent, writes to 2 then 1; 2 forwards to 3', () => {
    const m = 64 * 1024;
    expect(m).toBeGreaterThan(STAR_MAX_BYTES);
    // the empty notice to 3, whose send the root waits for (a hop: alpha); then, written at once
    // (Promise.all: no gap), rank 2 at u(m), rank 1 at u(m) + m/beta; rank 3 at 2 u(m)
    const b = t('bcast', m, 4);
    near(b.time_s, A + 2 * u(m));
    expect(b).toMatchObject({ algorithm: 'binomial', messages: 4, bytes: 3 * m });
    // The gap is the receiving side's (and an awaited send's): a bcast's sends do not pay it.
    near(directTraffic('bcast', m, 4, { ...link, gap: 10 * A }).time_s, A + 2 * u(m));
    // 8 ranks: no notices, the plain binomial tree (rank 0 writes to 4, 2, 1; 7 is last, three first-child hops down)
    near(t('bcast', m, 8).time_s, 3 * u(m));
    expect(t('bcast', m, 8).messages).toBe(7);
  });

  it('bcast on 4 ranks up to STAR_MAX_BYTES: a star, rank 0 writes to 1, 2 and 3 itself', () => {
    const m = 1024;
    const b = t('bcast', m, 4);
    near(b.time_s, u(m) + 2 * (m / B)); // three writes at once (Promise.all): the bytes apart, no gap
    expect(b).toMatchObject({ algorithm: 'star', messages: 3, bytes: 3 * m });
    expect(t('bcast', STAR_MAX_BYTES + 1, 4).algorithm).toBe('binomial');
    expect(t('bcast', m, STAR_MAX_RANKS + 1).algorithm).toBe('binomial');
  });

  it('reduce on 8 ranks with a gap larger than a message: each rank takes its children smallest subtree first, gap apart', () => {
    const g = 10 * u(8);
    const r = directTraffic('reduce', 8, 8, { ...link, gap: g });
    // rank 4 hears 5 at u, 6 (after 7) at 2u: taken at u + g. Rank 0: 1 at u, 2 at 2u, 4 at (u + g) + u,
    // taken at u, u + g, max(2u + g, u + 2g) = u + 2g.
    near(r.time_s, u(8) + 2 * g);
  });

  it('prices the algorithm the communicator picks, at every size and rank count around its thresholds', () => {
    for (const n of [2, 3, 4, 5, 8]) {
      for (const bytes of [8, TREE_MAX_BYTES, TREE_MAX_BYTES + 8, 2 ** 20 - 8, 2 ** 20, 2 ** 24, 2 ** 24 + 8]) {
        const runs = allreduceAlgorithm(Op.SUM, new Uint8Array(bytes), n);
        const priced = t('allreduce', bytes, n).algorithm;
        if (runs === 'recursive-doubling') expect(priced).toBe(n > PAIRWISE_MAX_RANKS && n <= TREE_MAX_RANKS && bytes <= TREE_MAX_BYTES ? 'tree' : 'recursive-doubling');
        else expect(priced).toBe(runs);
      }
    }
  });
});

describe('model - fresh result memory (FaaS.fresh_memory)', () => {
  const perByte = FRESH / 1000 / MiB;
  const without = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.1, bandwidth: 500, gap: 0.02 }, Redis: { overhead: 1, gap: 0.3 } } }, 'test');

  it('adds the copied result\'s bytes once: an allreduce\'s or reduce\'s new buffer, n parts at a gather root; nothing for a barrier or with `into`', () => {
    const d = (op: OpName, bytes: number, o = {}) => estimate('direct', op, bytes, 4, config, o).time_s - estimate('direct', op, bytes, 4, without, o).time_s;
    near(d('allreduce', MiB), MiB * perByte); // 3 ms
    near(d('reduce', MiB), MiB * perByte);
    near(d('gather', MiB), 4 * MiB * perByte);
    near(d('barrier', 0), 0);
    near(d('allreduce', MiB, { into: true }), 0);
    // Below FRESH_MIN_BYTES malloc reuses its heap: no fresh pages; a gather's root holds n parts.
    near(d('allreduce', FRESH_MIN_BYTES - 8), 0);
    near(d('allreduce', FRESH_MIN_BYTES), FRESH_MIN_BYTES * perByte);
    near(d('gather', FRESH_MIN_BYTES / 4), FRESH_MIN_BYTES * perByte);
  });

  it('charges nothing for a result the socket or the store\'s reply fills (calibrate measured a bcast without `into` at +0.2 ms per MiB, an allreduce at +4 ms)', () => {
    const d = (channel: 'direct' | 'redis' | 's3', op: OpName) => estimate(channel, op, MiB, 4, config).time_s - estimate(channel, op, MiB, 4, without).time_s;
    // A receive's own buffer: bcast, scatter's part, a message.
    for (const op of ['bcast', 'scatter', 'send', 'recv'] as OpName[]) near(d('direct', op), 0);
    // On storage the allreduce's result is a view of the one value rank 0 wrote, as read; a gather's root still assembles the parts.
    // Thread ranks copy every result out of the shared arena: shm, and the direct channel's node level, pay.
    near(estimate('shm', 'bcast', MiB, 4, config).time_s - estimate('shm', 'bcast', MiB, 4, without).time_s, MiB * perByte);
    const twoLevel = (c: typeof config) => estimate('direct', 'bcast', MiB, 8, c, { ranksPerProcess: 4 }).time_s;
    near(twoLevel(config) - twoLevel(without), MiB * perByte);
    for (const channel of ['redis', 's3'] as const) {
      near(d(channel, 'bcast'), 0);
      near(d(channel, 'allreduce'), 0);
      near(d(channel, 'gather'), 4 * MiB * perByte);
    }
  });
});

describe('model - the gap on storage channels', () => {
  it('redis on 4 ranks: one rank making three requests pays two gaps; three ranks reading one value, none', () => {
    const noGap = validateConfig({ backends: DIRECT, model: { Redis: { overhead: 1 }, FaaS: { fresh_memory: FRESH } } }, 'test');
    const g = 0.3e-3;
    const d = (op: OpName) => estimate('redis', op, 1024, 4, config).time_s - estimate('redis', op, 1024, 4, noGap).time_s;
    near(d('bcast'), 0); // one write, three readers
    near(d('gather'), 2 * g); // the root reads three parts
    near(d('scatter'), 2 * g); // the root writes three parts
    near(d('allreduce'), 2 * g); // the fan-in to rank 0; the result is one value three ranks read
    near(d('barrier'), 2 * g);
    near(d('send'), 0);
  });

  it('rejects a negative gap or fresh_memory (FMI_CONFIG)', () => {
    for (const model of [{ Direct: { gap: -1 } }, { S3: { gap: -0.1 } }, { FaaS: { fresh_memory: -2 } }]) {
      expect(() => validateConfig({ backends: DIRECT, model }, 'test')).toThrow(FmiError);
    }
  });
});

// Calibrated figures for every rank busy at once: a round of pairwise exchange (direct, shm), a request (redis, s3).
describe('model - every rank at once', () => {
  const XA = 0.5e-3; // Direct.exchange_overhead 0.5 ms
  const XB = 200e6; // Direct.exchange_bandwidth 200 MB/s
  const withX = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.1, bandwidth: 500, gap: 0.02, exchange_overhead: 0.5, exchange_bandwidth: 200 } } }, 'test');
  const x = (b: number) => XA + b / XB;

  it('direct: rounds of pairwise exchange take the calibrated round; trees keep overhead and gap, their bytes at the round\'s bandwidth; a message is the ping-pong\'s', () => {
    expect(modelParams(withX).direct.exchange).toEqual({ alpha: XA, beta: XB });
    expect(modelParams(config).direct.exchange).toBeUndefined();
    const e = (op: OpName, bytes: number, ranks: number) => estimate('direct', op, bytes, ranks, withX, { into: true }).time_s;
    near(e('allreduce', 64 * 1024, 4), 2 * x(64 * 1024)); // recursive doubling
    near(e('allreduce', MiB, 4), 2 * (x(MiB / 2) + x(MiB / 4))); // Rabenseifner: halving, then doubling
    near(e('scan', 1024, 8), 3 * x(1024));
    // Trees: every rank of the job is in them, so their bytes go at the exchange's bandwidth.
    const tx = (op: OpName, bytes: number, ranks: number) => directTraffic(op, bytes, ranks, { ...link, exchange: { alpha: XA, beta: XB } }).time_s;
    near(e('allreduce', 1024, 4), tx('allreduce', 1024, 4)); // the star
    near(e('bcast', 64 * 1024, 4), tx('bcast', 64 * 1024, 4));
    // The binomial bcast on 4 ranks: the notice, then 0 -> 2 and 2 -> 3, each a hop and 64 KiB at XB.
    near(e('bcast', 64 * 1024, 4), 3 * A + 2 * ((64 * 1024) / XB));
    near(e('gather', 64 * 1024, 4), tx('gather', 64 * 1024, 4));
    expect(e('bcast', MiB, 4)).toBeGreaterThan(t('bcast', MiB, 4).time_s + MiB / XB);
    near(e('send', 1024, 2), u(1024));
    // Uncalibrated (0): a round is a message and a gap.
    near(estimate('direct', 'allreduce', 64 * 1024, 4, config, { into: true }).time_s, 2 * (u(64 * 1024) + G));
  });

  it('redis and s3: n - 1 readers of one value take overhead_multiple, and on S3 every phase of a collective; a lone message, and Redis fan-ins, overhead', () => {
    const base = { Redis: { overhead: 1, bandwidth_single: 1000, bandwidth_multiple: 1e6 }, S3: { overhead: 10, bandwidth: 1000 } };
    const one = validateConfig({ backends: DIRECT, model: base }, 'test');
    const all = validateConfig({ backends: DIRECT, model: { Redis: { ...base.Redis, overhead_multiple: 3 }, S3: { ...base.S3, overhead_multiple: 30 } } }, 'test');
    const d = (ch: 'redis' | 's3', op: OpName, ranks = 4) => estimate(ch, op, 8, ranks, all, { into: true }).time_s - estimate(ch, op, 8, ranks, one, { into: true }).time_s;
    near(d('redis', 'send'), 0);
    near(d('redis', 'bcast'), (3e-3 - 1e-3) / 2); // the root's write alone, three readers at once
    near(d('redis', 'gather'), 0); // three writers, then the root's three reads one after another (the gap)
    near(d('redis', 'allreduce'), (3e-3 - 1e-3) / 2); // only the result's three readers
    near(d('redis', 'bcast', 2), 0); // two ranks: one busy at a time
    near(d('s3', 'send'), 0);
    // three writers at once, the root's three reads at once (its polls take longer too)
    expect(d('s3', 'gather')).toBeGreaterThanOrEqual(30e-3 - 10e-3 - 1e-9);
    // S3 sends a rank's requests at once: no gap for the root's reads (Redis pays two).
    const gapped = validateConfig({ backends: DIRECT, model: { Redis: { ...base.Redis, gap: 0.5 }, S3: { ...base.S3, gap: 50 } } }, 'test');
    near(estimate('s3', 'gather', 8, 4, gapped, { into: true }).time_s, estimate('s3', 'gather', 8, 4, one, { into: true }).time_s);
    near(estimate('redis', 'gather', 8, 4, gapped, { into: true }).time_s - estimate('redis', 'gather', 8, 4, one, { into: true }).time_s, 1e-3);
    // S3 readers poll while the root writes: every phase of a bcast has several ranks busy.
    expect(d('s3', 'bcast')).toBeGreaterThanOrEqual(30e-3 - 10e-3 - 1e-9);
  });
});

