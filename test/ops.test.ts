import { describe, expect, it } from 'vitest';
import { FmiError, Op } from '../src/index.js';
import { range, withWorld } from './helpers/world.js';

type Ctor = { new (n: number): any; from(a: ArrayLike<any>): any; name: string; BYTES_PER_ELEMENT: number };
const TYPES: Ctor[] = [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array, Float32Array, Float64Array];
const OPS = ['SUM', 'PROD', 'MIN', 'MAX', 'LAND', 'LOR', 'LXOR', 'BAND', 'BOR', 'BXOR'] as const;
const isFloat = (T: Ctor) => T === Float32Array || T === Float64Array;
const isBig = (T: Ctor) => T === BigInt64Array || T === BigUint64Array;
const valid = (op: string, T: Ctor) => !isFloat(T) || ['SUM', 'PROD', 'MIN', 'MAX'].includes(op);

/** A deterministic contribution per rank, with negatives, zeros and wrap-around. */
function data(T: Ctor, rank: number, n: number): any {
  const a = new T(n);
  for (let i = 0; i < n; i++) {
    const x = ((i * 37 + rank * 101) % 23) - 9 + (i % 5 === 0 ? 0 : rank);
    const v = i % 7 === 3 ? 0 : x * (i % 11 === 1 ? 1000 : 1);
    a[i] = isBig(T) ? BigInt(v) * (i % 13 === 2 ? 1n << 40n : 1n) : isFloat(T) ? v / 4 : v;
  }
  return a;
}

/** The reference: the JS semantics of each op, applied in rank order into a typed array (which wraps). */
function reference(op: string, T: Ctor, parts: any[]): any {
  const out = T.from(parts[0]);
  const big = isBig(T);
  const one = big ? 1n : 1;
  const zero = big ? 0n : 0;
  for (const p of parts.slice(1)) {
    for (let i = 0; i < out.length; i++) {
      const a = out[i];
      const b = p[i];
      let r: any;
      switch (op) {
        case 'SUM': r = a + b; break;
        case 'PROD': r = T === Float32Array ? Math.fround(a * b) : big ? a * b : T === Int32Array || T === Uint32Array ? Math.imul(a, b) : a * b; break;
        case 'MIN': r = a < b ? a : b; break;
        case 'MAX': r = a > b ? a : b; break;
        case 'LAND': r = a !== zero && b !== zero ? one : zero; break;
        case 'LOR': r = a !== zero || b !== zero ? one : zero; break;
        case 'LXOR': r = (a !== zero) !== (b !== zero) ? one : zero; break;
        case 'BAND': r = a & b; break;
        case 'BOR': r = a | b; break;
        case 'BXOR': r = a ^ b; break;
      }
      out[i] = r;
    }
  }
  return out;
}

describe('ops - every predefined op x TypedArray type, against a JS reference', () => {
  // 3 ranks: an odd size exercises the non-power-of-two fix-up. 9 elements run the
  // JS path, 4099 (an odd count, past the SIMD width, over the Wasm threshold for 1-byte types too) the Wasm kernels.
  for (const n of [9, 4099]) {
    it(`allreduce and reduce, ${n} elements`, async () => {
      const size = 3;
      const parts = range(size);
      await withWorld(size, async (c) => {
        for (const T of TYPES) {
          for (const name of OPS) {
            const op = Op[name];
            const mine = data(T, c.rank, n);
            if (!valid(name, T)) {
              await expect(c.allreduce(mine, op)).rejects.toMatchObject({ code: 'MPI_ERR_OP' });
              continue;
            }
            const want = reference(name, T, parts.map((r) => data(T, r, n)));
            const got = await c.allreduce(mine, op);
            expect(got, `${name} ${T.name}`).toBeInstanceOf(T);
            expect(Array.from(got), `${name} ${T.name} allreduce`).toEqual(Array.from(want));
            const red = await c.reduce(mine, op, 1);
            if (c.rank === 1) expect(Array.from(red), `${name} ${T.name} reduce`).toEqual(Array.from(want));
            expect(Array.from(mine), 'input untouched').toEqual(Array.from(data(T, c.rank, n)));
          }
        }
      });
    });
  }

  it('plain numbers and bigints', async () => {
    await withWorld(4, async (c) => {
      const r = c.rank;
      expect(await c.allreduce(r + 1, Op.SUM)).toBe(10);
      expect(await c.allreduce(r + 1, Op.PROD)).toBe(24);
      expect(await c.allreduce(r - 1.5, Op.MIN)).toBe(-1.5);
      expect(await c.allreduce(BigInt(r) * 10n ** 20n, Op.MAX)).toBe(3n * 10n ** 20n);
      expect(await c.allreduce(r % 2, Op.LAND)).toBe(0);
      expect(await c.allreduce(r % 2, Op.LOR)).toBe(1);
      expect(await c.allreduce(r === 2 ? 1 : 0, Op.LXOR)).toBe(1);
      expect(await c.allreduce(0b1111 << r, Op.BAND)).toBe(0b1000);
      expect(await c.allreduce(1 << r, Op.BOR)).toBe(0b1111);
      expect(await c.allreduce(BigInt(1 << r), Op.BXOR)).toBe(15n);
    });
  });

  it('unknown op for a type is MPI_ERR_OP on every rank, at once', async () => {
    await withWorld(2, async (c) => {
      for (const bad of [
        () => c.allreduce(new Float64Array(4), Op.BXOR),
        () => c.reduce({ a: 1 }, Op.SUM, 0),
        () => c.scan('text', Op.MAX),
        () => c.allreduce(1.5, Op.BAND),
        () => c.allreduce(new Uint8ClampedArray(3), Op.SUM),
        () => c.allreduce(1, 'SUM' as unknown as Op),
      ]) {
        const err = await bad().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FmiError);
        expect((err as FmiError).code).toBe('MPI_ERR_OP');
        expect((err as FmiError).rank).toBe(c.rank);
      }
    });
  });
});
