import { describe, expect, it } from 'vitest';
import { giveOperand, keepOperand, takeOperand } from '../src/collectives/operand-pool.js';
import { Op } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

describe('operand pool', () => {
  it('hands a buffer given back out again, of exactly the size asked', () => {
    const a = takeOperand(1000);
    expect([a.byteLength, a.buffer.byteLength, a.byteOffset]).toEqual([1000, 1000, 0]);
    giveOperand(new Float64Array(a.buffer));
    expect(takeOperand(1000).buffer).toBe(a.buffer);
    expect(takeOperand(1000).buffer).not.toBe(a.buffer);
  });

  it('never takes a buffer it did not hand out, nor one kept for good', () => {
    const user = new Uint8Array(1008);
    giveOperand(user);
    expect(takeOperand(1008).buffer).not.toBe(user.buffer);
    const result = takeOperand(1016);
    keepOperand(result);
    giveOperand(result);
    expect(takeOperand(1016).buffer).not.toBe(result.buffer);
    // Given back twice: handed out once.
    const b = takeOperand(1024);
    giveOperand(b);
    giveOperand(b);
    expect([takeOperand(1024).buffer === b.buffer, takeOperand(1024).buffer === b.buffer]).toEqual([true, false]);
  });
});

describe.each([2, 3, 4])('small JS reductions reuse their operands - %i ranks', (size) => {
  it('every result is an array of its own, never written by a later call; the data is untouched', async () => {
    const calls = 6;
    const got = await withWorld(size, async (c) => {
      const data = range(calls).map((k) => new Float64Array(128).fill(c.rank + 1 + k));
      const results: Float64Array[] = [];
      const scans: Float64Array[] = [];
      let chained = new Float64Array(128).fill(1);
      for (let k = 0; k < calls; k++) {
        results.push((await c.allreduce(data[k], Op.SUM)) as Float64Array);
        scans.push((await c.scan(data[k], Op.SUM)) as Float64Array);
        const r = await c.reduce(data[k], Op.MAX, k % size);
        if (c.rank === k % size) results.push(r as Float64Array);
        // A result handed back in as the next call's data.
        chained = (await c.allreduce(chained, Op.SUM)) as Float64Array;
      }
      const all = [...results, ...scans, chained];
      return {
        own: new Set(all.map((r) => r.buffer)).size === all.length && all.every((r) => r.byteOffset === 0 && r.buffer.byteLength === 1024),
        sums: results.map((r) => r[127]),
        scans: scans.map((r) => r[0]),
        chained: chained[5],
        data: data.every((d, k) => d.every((x) => x === c.rank + 1 + k)),
      };
    });
    // Sum over ranks of (rank + 1 + k), the max of the same, rank r's prefix sum.
    const sum = (k: number) => (size * (size + 1)) / 2 + size * k;
    for (const [rank, g] of got.entries()) {
      const want: number[] = [];
      for (let k = 0; k < calls; k++) {
        want.push(sum(k));
        if (rank === k % size) want.push(size + k);
      }
      expect(g).toEqual({ own: true, sums: want, scans: range(calls).map((k) => ((rank + 1) * (rank + 2)) / 2 + (rank + 1) * k), chained: size ** calls, data: true });
    }
  }, 60_000);
});
