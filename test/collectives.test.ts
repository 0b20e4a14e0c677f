import { describe, expect, it } from 'vitest';
import { Op } from '../src/index.js';
import { range, SIZES, withWorld } from './helpers/world.js';

/** A rank's contribution: a TypedArray (zero-copy path) or a structured value. */
const typed = (rank: number, n = 5) => Float64Array.from(range(n), (i) => rank * 100 + i + 0.5);
const structured = (rank: number) => ({ rank, name: `r${rank}`, tags: [rank, String(rank)], big: BigInt(rank) << 40n, m: new Map([[rank, true]]) });

describe.each(SIZES)('collectives - %i ranks', (size) => {
  it('bcast from every root, TypedArray and structured', async () => {
    await withWorld(size, async (c) => {
      for (const root of range(size)) {
        const t = await c.bcast(c.rank === root ? typed(root) : undefined, root);
        expect(t).toEqual(typed(root));
        const s = await c.bcast(c.rank === root ? structured(root) : undefined, root);
        expect(s).toEqual(structured(root));
      }
    });
  });

  it('gather to every root: one concatenated TypedArray, or an array by rank', async () => {
    await withWorld(size, async (c) => {
      for (const root of range(size)) {
        // Uneven lengths: a rank's share is rank + 1 elements.
        const t = await c.gather(Int32Array.from(range(c.rank + 1), (i) => c.rank * 10 + i), root);
        const s = await c.gather(structured(c.rank), root);
        if (c.rank === root) {
          expect(t).toEqual(Int32Array.from(range(size).flatMap((r) => range(r + 1).map((i) => r * 10 + i))));
          expect(s).toEqual(range(size).map(structured));
        } else {
          expect(t).toBeUndefined();
          expect(s).toBeUndefined();
        }
      }
    });
  });

  it('scatter from every root: TypedArray slices and array items', async () => {
    await withWorld(size, async (c) => {
      for (const root of range(size)) {
        const all = Uint16Array.from(range(size * 3), (i) => i + root);
        const t = await c.scatter(c.rank === root ? all : undefined, root);
        expect(t).toEqual(all.slice(c.rank * 3, c.rank * 3 + 3));
        const s = await c.scatter(c.rank === root ? range(size).map(structured) : undefined, root);
        expect(s).toEqual(structured(c.rank));
      }
    });
  });

  it('reduce to every root: small and Wasm-sized TypedArrays, numbers, bigints, arrays', async () => {
    await withWorld(size, async (c) => {
      const n = 1000; // 8 KB: above the Wasm threshold
      for (const root of range(size)) {
        const big = await c.reduce(Float64Array.from(range(n), (i) => c.rank + i), Op.SUM, root);
        const small = await c.reduce(new Int32Array([c.rank, -c.rank]), Op.MAX, root);
        const num = await c.reduce(c.rank + 1, Op.PROD, root);
        const bi = await c.reduce(BigInt(c.rank) + 1n, Op.SUM, root);
        const arr = await c.reduce([c.rank, 1], Op.SUM, root);
        if (c.rank !== root) {
          expect([big, small, num, bi, arr]).toEqual([undefined, undefined, undefined, undefined, undefined]);
          continue;
        }
        const rs = (size * (size - 1)) / 2;
        expect(big).toEqual(Float64Array.from(range(n), (i) => rs + size * i));
        expect(small).toEqual(new Int32Array([size - 1, 0]));
        expect(num).toBe(range(size).reduce((a, r) => a * (r + 1), 1));
        expect(bi).toBe(BigInt((size * (size + 1)) / 2));
        expect(arr).toEqual([rs, size]);
      }
    });
  });

  it('allreduce: every rank gets the same result, bit for bit', async () => {
    const results = await withWorld(size, async (c) => {
      const v = Float64Array.from(range(4096), (i) => Math.sin(c.rank * 7 + i) * 1e-3 + 1 / (c.rank + 1));
      const s = await c.allreduce(v, Op.SUM);
      const m = await c.allreduce(Float32Array.from(range(3), (i) => c.rank - i), Op.MIN);
      const x = await c.allreduce(c.rank * 2, Op.MAX);
      return { s, m, x };
    });
    for (const r of results) {
      expect(Buffer.from(r.s.buffer).equals(Buffer.from(results[0]!.s.buffer))).toBe(true);
      expect(r.m).toEqual(Float32Array.from(range(3), (i) => 0 - i));
      expect(r.x).toBe((size - 1) * 2);
    }
    const want = Float64Array.from(range(4096), (i) => range(size).reduce((a, r) => a + Math.sin(r * 7 + i) * 1e-3 + 1 / (r + 1), 0));
    for (let i = 0; i < want.length; i++) expect(results[0]!.s[i]).toBeCloseTo(want[i]!, 9);
  });

  it('scan: inclusive prefix on TypedArrays and numbers', async () => {
    await withWorld(size, async (c) => {
      const t = await c.scan(Int32Array.from(range(600), (i) => c.rank + i), Op.SUM);
      const prefix = (c.rank * (c.rank + 1)) / 2;
      expect(t).toEqual(Int32Array.from(range(600), (i) => prefix + (c.rank + 1) * i));
      expect(await c.scan(c.rank + 1, Op.SUM)).toBe(((c.rank + 1) * (c.rank + 2)) / 2);
      expect(await c.scan(BigInt(c.rank), Op.MAX)).toBe(BigInt(c.rank));
    });
  });

  it('barrier: no rank leaves before every rank arrived', async () => {
    const arrived: number[] = [];
    const left: number[] = [];
    await withWorld(size, async (c) => {
      await new Promise((r) => setTimeout(r, c.rank * 15));
      arrived.push(c.rank);
      await c.barrier();
      left.push(arrived.length);
    });
    expect(left).toEqual(range(size).map(() => size));
  });
});
