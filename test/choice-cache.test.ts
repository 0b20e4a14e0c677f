import { describe, expect, it } from 'vitest';
import { Op } from '../src/index.js';
import { DEFAULT_CONFIG } from '../src/config/defaults.js';
import { Policy } from '../src/model/index.js';
import { withWorld } from './helpers/world.js';

describe('the cached channel choice and modeled cost', () => {
  it('stats() sums the model for each call by its own op and size, cached or not', async () => {
    const sizes = [8, 8, 64 * 1024, 8, 64 * 1024, 4 * 1024 * 1024];
    const out = await withWorld(3, async (c) => {
      for (const b of sizes) await c.allreduce(new Float64Array(b / 8).fill(1), Op.SUM);
      for (const b of sizes) await c.bcast(c.rank === 0 ? new Uint8Array(b) : undefined, 0, { bytes: b });
      return c.stats();
    });
    const policy = new Policy(DEFAULT_CONFIG, { ranks: 3, channels: ['direct'] });
    // Each size priced as the algorithm it ran (the tree, recursive doubling, Rabenseifner at 4 MiB): the model's default picks the same.
    const allreduce = sizes.reduce((usd, b) => usd + policy.estimate('direct', 'allreduce', b).cost_usd, 0);
    const bcast = sizes.reduce((usd, b) => usd + policy.estimate('direct', 'bcast', b).cost_usd, 0);
    for (const s of out) {
      expect(s.allreduce!.modeledCostUsd).toBeCloseTo(allreduce, 15);
      expect(s.bcast!.modeledCostUsd).toBeCloseTo(bcast, 15);
      expect(s.allreduce!.calls).toBe(sizes.length);
    }
    // Different sizes are priced differently, or this test proves nothing.
    expect(policy.estimate('direct', 'allreduce', 8).cost_usd).not.toBe(policy.estimate('direct', 'allreduce', 64 * 1024).cost_usd);
  });
});
