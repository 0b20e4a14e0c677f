import { describe, expect, it } from 'vitest';
import { STAR_MAX_BYTES } from '../src/collectives/bcast.js';
import { validateConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';
import { fitChannel, fitFresh, modelPatch } from '../src/model/calibration.js';
import { estimate, FRESH_MIN_BYTES } from '../src/model/index.js';
import { directMeasurements } from './helpers/measurements.js';

// Two terms calibrated from the patterns the checked operations are made of: the star bcast's
// one step (Direct/Shm.fanout_overhead, rank 0 writing to every rank at once after a barrier)
// and a new result's cost per call (FaaS.fresh_overhead, beside fresh_memory per MiB).
const A = 0.05e-3; // ping-pong latency, s
const H = 0.2e-3; // a hop inside a collective
const F = 0.35e-3; // the fan-out
const B = 1e9;
const DIRECT = { Direct: { enabled: true } };
const MiB = 2 ** 20;

function near(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-15);
}

describe('model - the star bcast\'s step (fanout_overhead)', () => {
  const hop = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.05, bandwidth: 1000, collective_overhead: 0.2 } } }, 'test');
  const fan = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.05, bandwidth: 1000, collective_overhead: 0.2, fanout_overhead: 0.35 } } }, 'test');
  const bcast = (c: typeof hop, bytes: number, ranks = 4) => estimate('direct', 'bcast', bytes, ranks, c, { into: true }).time_s;

  it('prices the star bcast at the fan-out, the root\'s writes the bytes apart; the binomial tree keeps its hops', () => {
    near(bcast(fan, 1024), F + (3 * 1024) / B);
    near(bcast(fan, 1024, 3), F + (2 * 1024) / B);
    // Not calibrated (0): the hop inside a collective, as before.
    expect(hop.model.Direct.fanout_overhead).toBe(0);
    near(bcast(hop, 1024), H + (3 * 1024) / B);
    // Above STAR_MAX_BYTES: no fan-out, the notice and the tree's hops.
    const m = 4 * STAR_MAX_BYTES;
    near(bcast(fan, m), bcast(hop, m));
    near(estimate('direct', 'barrier', 0, 4, fan).time_s, estimate('direct', 'barrier', 0, 4, hop).time_s);
    expect(() => validateConfig({ backends: DIRECT, model: { Direct: { fanout_overhead: -1 } } }, 'test')).toThrow(FmiError);
  });

  it('calibration writes fanout_overhead from the fan-out it timed (the median), and nothing without one', () => {
    const m = directMeasurements(A, B, { barrier: [{ bytes: 0, seconds: 2 * H, iters: 10 }], fanout: [{ bytes: 8, seconds: F, iters: 10 }] });
    const f = fitChannel(m);
    near(f.alphaFan!, F);
    expect(modelPatch([f]).Direct!.fanout_overhead).toBeCloseTo(0.35, 9);
    expect(modelPatch([fitChannel({ ...m, channel: 'shm' })]).Shm!.fanout_overhead).toBeCloseTo(0.35, 9);
    expect(modelPatch([fitChannel({ ...m, fanout: undefined })]).Direct!.fanout_overhead).toBeUndefined();
  });
});

describe('model - the Redis bcast\'s write and reads (Redis.fanout_overhead)', () => {
  const R = { overhead: 1, overhead_multiple: 3, bandwidth_single: 100, bandwidth_multiple: 400 };
  const plain = validateConfig({ backends: DIRECT, model: { Redis: R } }, 'test');
  const fan = validateConfig({ backends: DIRECT, model: { Redis: { ...R, fanout_overhead: 2.5 } } }, 'test');
  const e = (c: typeof plain, op: 'bcast' | 'allreduce', bytes: number) => estimate('redis', op, bytes, 4, c).time_s;

  it('prices the bcast at the fan-out plus its bytes (the write at one rank\'s bandwidth, the reads at the busiest bound); not calibrated: overhead / 2 + overhead_multiple / 2', () => {
    const m = 64 * 1024;
    const bytes = m / 200e6 + Math.max(m / 200e6, (3 * m) / 800e6);
    near(e(fan, 'bcast', m), 2.5e-3 + bytes);
    near(e(plain, 'bcast', m), 0.5e-3 + 1.5e-3 + bytes);
    // The allreduce keeps its own phases (its readers wait from their own write on).
    near(e(fan, 'allreduce', m), e(plain, 'allreduce', m));
  });
});

describe('model - a new result\'s cost per call (fresh_overhead)', () => {
  const PER_CALL = 0.3; // ms
  const PER_MIB = 3; // ms
  const config = validateConfig({ backends: DIRECT, model: { FaaS: { fresh_memory: PER_MIB, fresh_overhead: PER_CALL } } }, 'test');
  const d = (bytes: number, op: 'allreduce' | 'bcast' = 'allreduce') => estimate('direct', op, bytes, 4, config).time_s - estimate('direct', op, bytes, 4, config, { into: true }).time_s;

  it('a copied result from FRESH_MIN_BYTES (64 KiB, where results stop being zero-filled) pays the call\'s cost and its bytes', () => {
    expect(FRESH_MIN_BYTES).toBe(64 * 1024);
    near(d(FRESH_MIN_BYTES), PER_CALL / 1e3 + (PER_MIB / 1e3) * (FRESH_MIN_BYTES / MiB));
    near(d(MiB), (PER_CALL + PER_MIB) / 1e3);
    near(d(FRESH_MIN_BYTES - 8), 0);
    near(d(MiB, 'bcast'), 0); // the socket fills a bcast's result
  });

  it('fitFresh: the intercept and slope of the line through (new minus reused) over the sizes; sizes where new cost nothing are left out', () => {
    const sizes = [64 * 1024, 256 * 1024, MiB];
    const fresh = sizes.map((bytes) => ({ bytes, put: 1e-3 + 0.3e-3 + (3e-3 * bytes) / MiB, get: 1e-3, iters: 10 }));
    const f = fitFresh(fresh);
    near(f.perCall, 0.3e-3);
    near(f.perByte, 3e-3 / MiB);
    expect(modelPatch([], f).FaaS).toEqual({ fresh_memory: 3, fresh_overhead: 0.3 });
    expect(fitFresh([...fresh, { bytes: 4 * MiB, put: 1e-3, get: 2e-3, iters: 10 }])).toEqual(f);
    expect(fitFresh(fresh.map((x) => ({ ...x, put: x.get / 2 })))).toEqual({ perCall: 0, perByte: 0 });
  });
});
