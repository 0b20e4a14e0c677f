import { describe, expect, it } from 'vitest';
import { STAR_MAX_BYTES } from '../src/collectives/bcast.js';
import { validateConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';
import { fitChannel, fitHop, modelPatch } from '../src/model/calibration.js';
import { directTraffic, estimate } from '../src/model/index.js';
import { directMeasurements } from './helpers/measurements.js';

// The term that prices a collective's hops on a machine whose cores the ranks share
// (Direct/Shm.collective_overhead, from the barrier).
const A = 0.05e-3; // ping-pong latency, s
const H = 0.2e-3; // a hop inside a collective, s
const B = 1e9;
const G = 0.03e-3;
const DIRECT = { Direct: { enabled: true } };

function near(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-15);
}

describe('model - the hop inside a collective (collective_overhead)', () => {
  const plain = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.05, bandwidth: 1000, gap: 0.03 } } }, 'test');
  const hop = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.05, bandwidth: 1000, gap: 0.03, collective_overhead: 0.2 } } }, 'test');
  const e = (c: typeof plain, op: 'send' | 'bcast' | 'allreduce' | 'barrier', bytes: number) => estimate('direct', op, bytes, 4, c, { into: true }).time_s;

  it('prices a tree collective\'s hops at collective_overhead and a lone message at overhead', () => {
    near(e(hop, 'send', 1024), A + 1024 / B);
    near(e(plain, 'send', 1024), e(hop, 'send', 1024));
    // The star bcast: one hop, the root's three writes at once (the bytes apart).
    near(e(hop, 'bcast', 1024), H + 3 * 1024 / B);
    // The tree allreduce and barrier on 4 ranks: a hop up, a hop down.
    near(e(hop, 'barrier', 0), 2 * H + 4 * G);
    near(e(hop, 'allreduce', 1024) - e(plain, 'allreduce', 1024), 2 * (H - A));
    // Above STAR_MAX_BYTES: the root waits for its notice to rank 3 (a hop), then two hops down to rank 3.
    const m = 4 * STAR_MAX_BYTES;
    near(e(hop, 'bcast', m), H + 2 * (H + m / B));
  });

  it('is the overhead when not calibrated (0); a negative one is refused', () => {
    expect(() => validateConfig({ backends: DIRECT, model: { Direct: { collective_overhead: -1 } } }, 'test')).toThrow(FmiError);
    expect(plain.model.Direct.collective_overhead).toBe(0);
    near(e(plain, 'barrier', 0), 2 * A + 4 * G);
  });

  it('fitHop solves the model\'s barrier for the hop: the model then takes the measured barrier', () => {
    const link = { alpha: A, beta: B, gap: G };
    for (const ranks of [2, 4, 7, 16]) {
      const measured = 3e-3;
      const h = fitHop(measured, ranks, link);
      near(directTraffic('barrier', 0, ranks, { ...link, alphaColl: h }).time_s, measured);
    }
    // On 4 ranks the barrier is 2 hops and 4 gaps.
    near(fitHop(2 * H + 4 * G, 4, link), H);
    // Gaps alone longer than the barrier, or nothing measured: a microsecond, not 0 (0 reads as not calibrated).
    expect(fitHop(G, 4, link)).toBe(1e-6);
    expect(fitHop(0, 4, link)).toBe(1e-6);
  });

  it('calibration writes collective_overhead from the barrier it timed', () => {
    const m = directMeasurements(A, B, {
      burst: [1, 4, 16].map((k) => ({ bytes: k, seconds: 2 * A + (k - 1) * G, iters: 10 })),
      barrier: [{ bytes: 0, seconds: 2 * H + 4 * G, iters: 10 }],
    });
    const f = fitChannel(m);
    expect(f.alphaColl! / H).toBeCloseTo(1, 6);
    const patch = modelPatch([f]);
    expect(patch.Direct!.collective_overhead).toBeCloseTo(0.2, 6);
    // Without a barrier (an older rank script): not written.
    expect(modelPatch([fitChannel({ ...m, barrier: undefined })]).Direct!.collective_overhead).toBeUndefined();
  });
});

describe('model - the barrier\'s hop (barrier_overhead) beside the hop of a collective that carries data', () => {
  const HB = 0.12e-3; // a hop of the barrier's tree, s: less than H
  const burst = [1, 4, 16].map((k) => ({ bytes: k, seconds: 2 * A + (k - 1) * G, iters: 10 }));
  const cfg = (Direct: Record<string, number>) => validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.05, bandwidth: 1000, gap: 0.03, ...Direct } } }, 'test');
  const e = (c: ReturnType<typeof cfg>, op: 'allreduce' | 'barrier' | 'bcast', bytes: number) => estimate('direct', op, bytes, 4, c, { into: true }).time_s;

  it('calibration solves collective_overhead from the 8-byte allreduce and barrier_overhead from the barrier, each the model\'s own op', () => {
    const m = directMeasurements(A, B, {
      burst,
      barrier: [{ bytes: 0, seconds: 2 * HB + 4 * G, iters: 10 }],
      allreduce: [{ bytes: 8, seconds: 2 * H + 4 * G + 6 * (8 / B), iters: 10 }],
    });
    const f = fitChannel(m);
    // (The model's 8 bytes on the critical path are not quite the 6 edges' written here: within 0.01 %.)
    expect(f.alphaColl! / H).toBeCloseTo(1, 3);
    expect(f.alphaBarrier! / HB).toBeCloseTo(1, 6);
    const patch = modelPatch([f]);
    expect(patch.Direct!.collective_overhead).toBeCloseTo(0.2, 6);
    expect(patch.Direct!.barrier_overhead).toBeCloseTo(0.12, 6);
    // The written config prices both ops at what was measured.
    const c = cfg({ collective_overhead: patch.Direct!.collective_overhead!, barrier_overhead: patch.Direct!.barrier_overhead! });
    near(e(c, 'barrier', 0), 2 * HB + 4 * G);
    expect(e(c, 'allreduce', 8) / m.allreduce![0]!.seconds).toBeCloseTo(1, 3);
    // The same fit for shm (thread ranks).
    expect(modelPatch([fitChannel({ ...m, channel: 'shm' })]).Shm!.barrier_overhead).toBeCloseTo(0.12, 6);
    // Without the allreduce (an older rank script): the hop from the barrier, and no barrier_overhead.
    const old = modelPatch([fitChannel({ ...m, allreduce: undefined })]).Direct!;
    expect(old.collective_overhead).toBeCloseTo(0.12, 6);
    expect(old.barrier_overhead).toBeUndefined();
  });

  it('prices the barrier at barrier_overhead and every other tree at collective_overhead; 0 falls back to collective_overhead', () => {
    const both = cfg({ collective_overhead: 0.2, barrier_overhead: 0.12 });
    const one = cfg({ collective_overhead: 0.2 });
    near(e(both, 'barrier', 0), 2 * HB + 4 * G);
    near(e(one, 'barrier', 0), 2 * H + 4 * G);
    near(e(both, 'allreduce', 1024), e(one, 'allreduce', 1024));
    near(e(both, 'bcast', 4 * STAR_MAX_BYTES), e(one, 'bcast', 4 * STAR_MAX_BYTES));
    expect(one.model.Direct.barrier_overhead).toBe(0);
    expect(() => cfg({ barrier_overhead: -1 })).toThrow(FmiError);
  });
});
