import { describe, expect, it } from 'vitest';
import { Op } from '../src/index.js';
import { range, SIZES, withWorld } from './helpers/world.js';

// Non-commutative, associative: string concatenation and 2x2 matrix products.
const concat = Op.create((a: string, b: string) => a + b, { commutative: false });
type M = [number, number, number, number];
const matmul = Op.create((a: M, b: M): M => [a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3], a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3]]);
const matOf = (r: number): M => [1, r + 1, r % 3, 2];
// Neither commutative nor associative: only strict left-to-right evaluation gives this.
const leftFold = Op.create((a: number, b: number) => 2 * a - b, { commutative: false, associative: false });
// A custom op on TypedArrays, non-commutative: keeps the left side's non-zeros.
const firstNonZero = Op.create((a: Int32Array, b: Int32Array) => a.map((x, i) => (x !== 0 ? x : b[i]!)), { commutative: false });

const fold = <T>(xs: T[], f: (a: T, b: T) => T) => xs.reduce((a, b) => f(a, b));

describe.each(SIZES)('ordering - non-commutative ops give the left-to-right result, %i ranks', (size) => {
  const ranks = range(size);
  const strs = ranks.map((r) => `<${r}>`);
  const mats = ranks.map(matOf);
  const nums = ranks.map((r) => r * 3 + 1);
  const arrs = ranks.map((r) => Int32Array.from(range(size), (i) => (i >= r ? r + 1 : 0)));

  it('reduce at every root', async () => {
    await withWorld(size, async (c) => {
      for (const root of ranks) {
        const s = await c.reduce(strs[c.rank], concat, root);
        const m = await c.reduce(mats[c.rank]!, matmul, root);
        const n = await c.reduce(nums[c.rank], leftFold, root);
        const a = await c.reduce(arrs[c.rank]!, firstNonZero, root);
        if (c.rank !== root) continue;
        expect(s).toBe(strs.join(''));
        expect(m).toEqual(fold(mats, matmul.fn!));
        expect(n).toBe(fold(nums, leftFold.fn!));
        expect(a).toEqual(fold(arrs, firstNonZero.fn!));
      }
    });
  });

  it('allreduce', async () => {
    const out = await withWorld(size, async (c) => [
      await c.allreduce(strs[c.rank], concat),
      await c.allreduce(mats[c.rank]!, matmul),
      await c.allreduce(nums[c.rank], leftFold),
    ]);
    for (const o of out) expect(o).toEqual([strs.join(''), fold(mats, matmul.fn!), fold(nums, leftFold.fn!)]);
  });

  it('scan', async () => {
    const out = await withWorld(size, async (c) => [
      await c.scan(strs[c.rank], concat),
      await c.scan(mats[c.rank]!, matmul),
      await c.scan(nums[c.rank], leftFold),
    ]);
    out.forEach((o, r) => {
      expect(o).toEqual([strs.slice(0, r + 1).join(''), fold(mats.slice(0, r + 1), matmul.fn!), fold(nums.slice(0, r + 1), leftFold.fn!)]);
    });
  });

  it('the same topology evaluates in the same order every time', async () => {
    // Float sums are not associative: a fixed order gives identical bits on every run.
    const runs = await Promise.all([0, 1].map(() =>
      withWorld(size, async (c) => c.allreduce(Float64Array.from(range(300), (i) => 1 / (i + 1 + c.rank * 0.1)) , Op.SUM)),
    ));
    expect(Buffer.from(runs[0]![0]!.buffer).equals(Buffer.from(runs[1]![0]!.buffer))).toBe(true);
  });
});
