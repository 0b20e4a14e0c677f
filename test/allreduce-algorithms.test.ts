import { describe, expect, it } from 'vitest';
import { allreduceAlgorithm, RABENSEIFNER_MIN_BYTES, RING_MIN_BYTES } from '../src/collectives/allreduce-choice.js';
import { kernels } from '../src/kernels/index.js';
import { Op } from '../src/index.js';
import { range, settleWorld, withWorld } from './helpers/world.js';

const ALGORITHMS = ['recursive-doubling', 'rabenseifner', 'ring'] as const;

/** Bytes of a typed array, for exact comparisons (toEqual walks large arrays element by element). */
const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe.each([2, 3, 4, 5, 6, 7, 8])('allreduce algorithms - %i ranks', (size) => {
  it('Rabenseifner, the ring and recursive doubling give the same bits, with and without into, in place too', async () => {
    await withWorld(size, async (c) => {
      // Lengths that do not divide into size blocks, fewer elements than ranks, and a large one.
      for (const n of [1, 3, 7, 1000, 70_001]) {
        // Floats whose sums depend on the order: every rank must still get the same bits.
        const data = Float64Array.from(range(n), (i) => Math.sqrt(i * 7 + c.rank * 13) * (c.rank % 2 ? 1e-3 : 1e3));
        const results = [];
        for (const algorithm of ALGORITHMS) {
          const r = await c.allreduce(data, Op.SUM, { algorithm });
          expect(r).toBeInstanceOf(Float64Array);
          expect(r.length).toBe(n);
          const into = new Float64Array(n);
          expect(await c.allreduce(data, Op.SUM, { algorithm, into })).toBe(into);
          expect(bytes(into).equals(bytes(r))).toBe(true);
          results.push(r);
        }
        for (const i of [0, n >> 1, n - 1]) {
          const want = range(size).reduce((a, r) => a + Math.sqrt(i * 7 + r * 13) * (r % 2 ? 1e-3 : 1e3), 0);
          for (const r of results) expect(r[i]).toBeCloseTo(want, 6);
        }
        // Every rank has the same bits for each algorithm.
        const mine = Buffer.concat(results.map(bytes));
        const all = await c.allgather(new Uint8Array(mine));
        for (const r of range(size)) expect(Buffer.compare(all.subarray(r * mine.length, (r + 1) * mine.length), mine)).toBe(0);
        // In place (into = data), on integers and MAX.
        for (const algorithm of ALGORITHMS) {
          const v = Int32Array.from(range(n), (i) => (i % 11) * (c.rank + 1) - 5);
          expect(await c.allreduce(v, Op.MAX, { algorithm, into: v })).toBe(v);
          expect(v[n - 1]).toBe(((n - 1) % 11) * size - 5);
        }
      }
    });
  });
});

describe('allreduce algorithms - a result without into', () => {
  it('is the caller\'s own: a plain ArrayBuffer of its size, a new one per call, never written by a later call', async () => {
    await withWorld(4, async (c) => {
      const n = 40_001;
      for (const algorithm of ALGORITHMS) {
        const first = await c.allreduce(new Float64Array(n).fill(c.rank + 1), Op.SUM, { algorithm });
        const second = await c.allreduce(new Float64Array(n).fill(2 * (c.rank + 1)), Op.SUM, { algorithm });
        for (const r of [first, second]) {
          expect(r.buffer).toBeInstanceOf(ArrayBuffer);
          expect(r.byteOffset).toBe(0);
          expect(r.buffer.byteLength).toBe(n * 8);
        }
        expect(second.buffer).not.toBe(first.buffer);
        expect([first[0], first[n - 1], second[0], second[n - 1]]).toEqual([10, 10, 20, 20]);
      }
    });
  });

  it('a run of back-to-back calls: every result keeps its own values while the later calls run', async () => {
    // No barrier between calls, as bench/allreduce.mjs runs them: a rank may be a call ahead of its partners.
    await withWorld(4, async (c) => {
      const n = 1 << 17; // 1 MiB of Float64Array: Rabenseifner under 'auto'
      for (const algorithm of ['auto', ...ALGORITHMS] as const) {
        const results = [];
        for (let k = 0; k < 6; k++) results.push(await c.allreduce(new Float64Array(n).fill(k + c.rank), Op.SUM, algorithm === 'auto' ? {} : { algorithm }));
        expect(new Set(results.map((r) => r.buffer)).size).toBe(results.length);
        // SUM over ranks 0..3 of (k + rank) = 4k + 6, in every element of call k's result.
        expect(results.map((r) => [r[0], r[n >> 1], r[n - 1], r.every((x) => x === r[0])])).toEqual(range(6).map((k) => [4 * k + 6, 4 * k + 6, 4 * k + 6, true]));
      }
    });
  }, 60_000);
});

describe('allreduce algorithms - the automatic choice', () => {
  it('takes recursive doubling for small buffers, Rabenseifner from RABENSEIFNER_MIN_BYTES, the ring from RING_MIN_BYTES on sizes not a power of two', () => {
    const of = (b: number) => new Uint8Array(b);
    expect(RABENSEIFNER_MIN_BYTES).toBeLessThan(RING_MIN_BYTES);
    for (const size of [3, 4, 6, 8]) {
      expect(allreduceAlgorithm(Op.SUM, of(RABENSEIFNER_MIN_BYTES - 8), size)).toBe('recursive-doubling');
      expect(allreduceAlgorithm(Op.SUM, of(RABENSEIFNER_MIN_BYTES), size)).toBe('rabenseifner');
    }
    expect(allreduceAlgorithm(Op.SUM, of(RING_MIN_BYTES), 4)).toBe('rabenseifner');
    expect(allreduceAlgorithm(Op.SUM, of(RING_MIN_BYTES), 6)).toBe('ring');
    // Two ranks, a custom op, a structured value: recursive doubling whatever the size.
    expect(allreduceAlgorithm(Op.SUM, of(RING_MIN_BYTES), 2)).toBe('recursive-doubling');
    expect(allreduceAlgorithm(Op.create((a: number, b: number) => a + b), of(RING_MIN_BYTES), 4)).toBe('recursive-doubling');
    expect(allreduceAlgorithm(Op.SUM, Array.from(of(1024)), 4)).toBe('recursive-doubling');
    expect(allreduceAlgorithm(Op.SUM, of(8), 4, 'rabenseifner')).toBe('rabenseifner');
  });

  it('runs what it chose: an automatic large allreduce matches a forced one bit for bit', async () => {
    const n = RABENSEIFNER_MIN_BYTES / 8 + 3;
    const out = await withWorld(5, async (c) => {
      const data = Float64Array.from(range(n), (i) => Math.sin(i + c.rank));
      return [await c.allreduce(data, Op.SUM), await c.allreduce(data, Op.SUM, { algorithm: 'rabenseifner' })];
    });
    for (const [auto, forced] of out) expect(bytes(auto!).equals(bytes(forced!))).toBe(true);
  });

  it('refuses Rabenseifner for what it cannot reduce, with MPI_ERR_ARG', async () => {
    await withWorld(3, async (c) => {
      await expect(c.allreduce({ a: 1 }, Op.create((a) => a), { algorithm: 'rabenseifner' })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      await expect(c.allreduce([1, 2], Op.SUM, { algorithm: 'rabenseifner' })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
      await expect(c.allreduce(new Float64Array(4), Op.SUM, { algorithm: 'rabenseifer' as 'ring' })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    });
  });
});

describe('allreduce algorithms - failures', () => {
  it('a rank with another count fails every rank of a Rabenseifner allreduce promptly, and no Wasm memory leaks', async () => {
    for (const size of [4, 5]) {
      const n = 40_000;
      const before = kernels().memory.buffer.byteLength;
      for (let i = 0; i < 20; i++) {
        const out = await settleWorld(size, (c) => c.allreduce(new Float64Array(c.rank === 2 ? n + 1 : n), Op.SUM, { algorithm: 'rabenseifner', timeoutMs: 20_000 }));
        // Promptly: a rank that only gave up at its timeout would fail with FMI_TIMEOUT, not FMI_MISMATCH.
        for (const r of out) expect(r, `size ${size}`).toMatchObject({ status: 'rejected', reason: { code: 'FMI_MISMATCH' } });
      }
      // 20 leaks of a whole and a half buffer per rank would be 40+ MiB.
      expect(kernels().memory.buffer.byteLength - before).toBeLessThan(8 << 20);
    }
  });
});
