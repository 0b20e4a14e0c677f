import { describe, expect, it } from 'vitest';
import { STAR_MAX_BYTES } from '../src/collectives/bcast.js';
import { validateConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';
import { fitChannel, fitTreeBeta, modelPatch } from '../src/model/calibration.js';
import { directTraffic, estimate } from '../src/model/index.js';
import { directMeasurements } from './helpers/measurements.js';

// The bandwidth of a tree's edges inside a collective (Direct/Shm.tree_bandwidth, from a bcast timed
// as the model check times one), in place of the exchange's, which moved 437-946 MB/s between calibrations.
const A = 0.05e-3; // ping-pong latency, s
const H = 0.07e-3; // a hop inside a collective, s
const B = 4e9; // ping-pong bandwidth
const X = 800e6; // the exchange's bandwidth
const T = 500e6; // a tree edge's bandwidth
const MiB = 2 ** 20;
const DIRECT = { Direct: { enabled: true } };

function near(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.abs(expected) + 1e-15);
}

describe('model - a tree\'s edges at tree_bandwidth', () => {
  const model = { overhead: 0.05, bandwidth: 4000, collective_overhead: 0.07, exchange_overhead: 0.2, exchange_bandwidth: 800 };
  const plain = validateConfig({ backends: DIRECT, model: { Direct: model } }, 'test');
  const tree = validateConfig({ backends: DIRECT, model: { Direct: { ...model, tree_bandwidth: 500 } } }, 'test');
  const e = (c: typeof plain, op: 'bcast' | 'allreduce' | 'reduce', bytes: number) => estimate('direct', op, bytes, 4, c, { into: true }).time_s;

  it('prices the bcast\'s and reduce\'s edges at tree_bandwidth; the exchange rounds keep the exchange\'s', () => {
    const m = MiB;
    // 4 ranks above STAR_MAX_BYTES: the notice's hop, then two edges down to rank 3.
    expect(m).toBeGreaterThan(STAR_MAX_BYTES);
    near(e(tree, 'bcast', m), H + 2 * (H + m / T));
    near(e(plain, 'bcast', m), H + 2 * (H + m / X));
    // Rabenseifner's rounds are exchanges: unchanged by a tree's bandwidth.
    near(e(tree, 'allreduce', m), e(plain, 'allreduce', m));
    expect(e(tree, 'reduce', m)).toBeGreaterThan(e(plain, 'reduce', m));
  });

  it('is not calibrated at 0 (the exchange\'s, else the ping-pong\'s bandwidth); a negative one is refused', () => {
    expect(plain.model.Direct.tree_bandwidth).toBe(0);
    expect(plain.model.Shm.tree_bandwidth).toBe(0);
    expect(() => validateConfig({ backends: DIRECT, model: { Direct: { tree_bandwidth: -1 } } }, 'test')).toThrow(FmiError);
    const bare = validateConfig({ backends: DIRECT, model: { Direct: { overhead: 0.05, bandwidth: 4000, collective_overhead: 0.07 } } }, 'test');
    near(e(bare, 'bcast', MiB), H + 2 * (H + MiB / B));
  });

  it('fitTreeBeta solves the model\'s bcast for the bandwidth: the model then takes the measured bcast', () => {
    const link = { alpha: A, beta: B, alphaColl: H };
    for (const ranks of [3, 4, 8]) {
      for (const bytes of [64 * 1024, MiB]) {
        const seconds = 4e-3;
        const beta = fitTreeBeta({ bytes, seconds, iters: 10 }, ranks, link)!;
        near(directTraffic('bcast', bytes, ranks, { ...link, treeBeta: beta }).time_s, seconds);
      }
    }
    near(fitTreeBeta({ bytes: MiB, seconds: 3 * H + (2 * MiB) / T, iters: 10 }, 4, link)! / T, 1);
    // Hops alone longer than the measurement, or no bytes: not calibrated.
    expect(fitTreeBeta({ bytes: MiB, seconds: 2 * H, iters: 10 }, 4, link)).toBeUndefined();
    expect(fitTreeBeta({ bytes: 0, seconds: 1e-3, iters: 10 }, 4, link)).toBeUndefined();
  });

  it('calibration writes tree_bandwidth from its largest bcast, solved with the hop from the barrier', () => {
    const G = 0.01e-3;
    const m = directMeasurements(A, B, {
      burst: [1, 4, 16].map((k) => ({ bytes: k, seconds: 2 * A + (k - 1) * G, iters: 10 })),
      barrier: [{ bytes: 0, seconds: 2 * H + 4 * G, iters: 10 }],
      tree: [
        { bytes: 64 * 1024, seconds: 1e-3, iters: 10 },
        { bytes: MiB, seconds: 3 * H + (2 * MiB) / T, iters: 10 },
      ],
    });
    const f = fitChannel(m);
    expect(f.treeBeta! / T).toBeCloseTo(1, 6);
    expect(modelPatch([f]).Direct!.tree_bandwidth).toBe(500);
    // Without the bcast (an older rank script): not written.
    expect(modelPatch([fitChannel({ ...m, tree: undefined })]).Direct!.tree_bandwidth).toBeUndefined();
  });
});
