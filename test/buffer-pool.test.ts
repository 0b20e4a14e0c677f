import { describe, expect, it } from 'vitest';
import { BufferPool } from '../src/channels/buffer-pool.js';
import { unfilled, unfilledBytes, UNFILLED_MIN_BYTES } from '../src/util/fresh.js';

describe('BufferPool - buffers for messages that arrive before their receive', () => {
  it('keeps 32 MiB worth of 1 MiB buffers, so a relay that runs 20 messages behind takes none new', () => {
    const pool = new BufferPool();
    const MiB = 1024 * 1024;
    const first = Array.from({ length: 20 }, () => pool.take(MiB));
    for (const v of first) pool.give(v);
    const again = Array.from({ length: 20 }, () => pool.take(MiB));
    const seen = new Set(first.map((v) => v.buffer));
    expect(again.filter((v) => seen.has(v.buffer)).length).toBe(20);
  });

  it('keeps at most PER_CLASS small buffers per class and MAX_KEPT_BYTES in all', () => {
    const pool = new BufferPool();
    const small = Array.from({ length: 20 }, () => pool.take(1000));
    for (const v of small) pool.give(v);
    const back = Array.from({ length: 20 }, () => pool.take(1000));
    const seen = new Set(small.map((v) => v.buffer));
    expect(back.filter((v) => seen.has(v.buffer)).length).toBe(BufferPool.PER_CLASS);

    const big = Array.from({ length: 20 }, () => pool.take(8 * 1024 * 1024));
    for (const v of big) pool.give(v);
    const kept = new Set(big.map((v) => v.buffer));
    const reused = Array.from({ length: 20 }, () => pool.take(8 * 1024 * 1024)).filter((v) => kept.has(v.buffer)).length;
    expect(reused).toBe(BufferPool.MAX_KEPT_BYTES / (8 * 1024 * 1024));
  });

  it('hands out a view of exactly the length asked for', () => {
    const pool = new BufferPool();
    const v = pool.take(600 * 1024);
    expect(v.byteLength).toBe(600 * 1024);
    expect(v.buffer.byteLength).toBe(1024 * 1024);
    expect(v).toBeInstanceOf(Uint8Array);
  });
});

describe('unfilled - new memory a result is written into in full', () => {
  it('is a plain array over a buffer of exactly its size, at every size', () => {
    for (const n of [0, 8, UNFILLED_MIN_BYTES - 8, UNFILLED_MIN_BYTES, 3 * 1024 * 1024 + 8]) {
      const b = unfilledBytes(n);
      expect(Object.getPrototypeOf(b)).toBe(Uint8Array.prototype);
      expect([b.byteLength, b.byteOffset, b.buffer.byteLength]).toEqual([n, 0, n]);
      const f = unfilled(Float64Array, n / 8);
      expect(Object.getPrototypeOf(f)).toBe(Float64Array.prototype);
      expect([f.length, f.byteOffset, f.buffer.byteLength]).toEqual([n / 8, 0, n]);
    }
  });

  it('fails as new Uint8Array does for a size that cannot be', () => {
    expect(() => unfilledBytes(-1)).toThrow(RangeError);
    expect(() => unfilled(Float64Array, 2 ** 53)).toThrow(RangeError);
  });
});
