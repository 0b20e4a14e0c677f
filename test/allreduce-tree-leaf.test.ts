import { describe, expect, it } from 'vitest';
import { kernels } from '../src/kernels/index.js';
import { Op } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

// A leaf of the small allreduce's tree sends its own value as it is (no
// working copy) and receives the result straight into `into`
// (allreduce-tree.ts): the caller's data must come back untouched, and the
// result must be right, in `into` or in an array of its own.
describe('allreduce tree: what a leaf sends and where its result lands', () => {
  it.each([
    ['1 KiB (JS engine)', 128],
    ['8 KiB (Wasm engine)', 1024],
  ])('%s: data untouched at every rank, the sum in `into` or a fresh array', async (_, n) => {
    const size = 5;
    const want = Float64Array.from(range(n), (i) => range(size).reduce((a, r) => a + (r + 1) * (i + 1), 0));
    const out = await withWorld(size, async (c) => {
      const data = Float64Array.from(range(n), (i) => (c.rank + 1) * (i + 1));
      const copy = data.slice();
      const into = new Float64Array(n);
      const a = await c.allreduce(data, Op.SUM, { into });
      const b = await c.allreduce(data, Op.SUM);
      return { sameInto: a === into, into, b, aliases: b.buffer === data.buffer || b.buffer === into.buffer, untouched: data.every((v, i) => v === copy[i]) };
    });
    for (const [rank, r] of out.entries()) {
      expect(r, `rank ${rank}`).toMatchObject({ sameInto: true, aliases: false, untouched: true });
      expect(r.into).toEqual(want);
      expect(r.b).toEqual(want);
    }
  });

  it('structured values: each rank keeps its own, every rank gets the sum', async () => {
    const out = await withWorld(4, async (c) => {
      const mine = [c.rank, 10 * c.rank];
      const sum = await c.allreduce(mine, Op.SUM);
      return { sum, mine };
    });
    for (const [rank, r] of out.entries()) expect(r).toEqual({ sum: [6, 60], mine: [rank, 10 * rank] });
  });

  it('many calls of the Wasm engine leave no Wasm memory behind', async () => {
    const before = kernels().memory.buffer.byteLength;
    await withWorld(4, async (c) => {
      const data = new Float64Array(1024).fill(c.rank);
      const into = new Float64Array(1024);
      for (let i = 0; i < 200; i++) await c.allreduce(data, Op.SUM, { into });
      expect(into[0]).toBe(6);
    });
    // 200 calls x 3 leaves leaking an 8 KiB block each would be 4.8 MB.
    expect(kernels().memory.buffer.byteLength - before).toBeLessThan(2 * 1024 * 1024);
  });
});
