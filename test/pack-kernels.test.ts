import { describe, expect, it } from 'vitest';
import { kernelModule } from '../src/kernels/arena.js';
import { extentOf, type Datatype } from '../src/mpi/datatypes.js';
import { packInto, unpackFrom } from '../src/mpi/pack.js';

// The block-list kernels of assembly/pack.ts (build/kernels-unshared.wasm)
// against the JS packInto/unpackFrom on random layouts: any block sizes
// (every copy path: 4/8/16 bytes, short, >= 256), displacements out of
// order and negative, extents smaller or larger than the blocks' span,
// short messages that end mid-block.

type PackBlocks = (dst: number, src: number, table: number, blocks: number, extent: number, count: number) => number;
type UnpackBlocks = (dst: number, src: number, table: number, blocks: number, extent: number, count: number, limit: number) => number;

const memory = new WebAssembly.Memory({ initial: 64 });
const x = new WebAssembly.Instance(kernelModule(false), { env: { memory } }).exports;
const packBlocks = x.packBlocks as PackBlocks;
const unpackBlocks = x.unpackBlocks as UnpackBlocks;
const heap = new Uint8Array(memory.buffer);

/** Deterministic PRNG (xorshift32). */
function rng(seed: number): (n: number) => number {
  let s = seed | 0 || 1;
  return (n) => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const LENS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 64, 100, 255, 256, 300, 1000];

/** A random element: blocks that do not overlap, in random order, some at negative displacements. */
function layout(r: (n: number) => number): Datatype {
  const k = 1 + r(40);
  const slots = Array.from({ length: k }, (_, i) => i);
  for (let i = k - 1; i > 0; i--) {
    const j = r(i + 1);
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  const slot = 1100; // more than the longest block
  const shift = r(2) ? -slot * r(k) : 0;
  const blocks: number[] = [];
  let size = 0;
  for (const s of slots) {
    const len = LENS[r(LENS.length)]!;
    blocks.push(s * slot + shift + r(slot - len), len);
    size += len;
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < blocks.length; i += 2) {
    lo = Math.min(lo, blocks[i]!);
    hi = Math.max(hi, blocks[i]! + blocks[i + 1]!);
  }
  // Extent: the span, or more (a resized type).
  const ext = hi - lo + (r(3) === 0 ? r(64) : 0);
  return { size, lb: lo, ub: lo + ext, trueLb: lo, trueUb: hi, blocks, dense: undefined } as unknown as Datatype;
}

/** Places a table of t's blocks at `at`; returns the address after it. */
function table(t: Datatype, at: number): number {
  new Int32Array(memory.buffer, at, t.blocks.length).set(t.blocks);
  return at + 4 * t.blocks.length;
}

describe('pack kernels: packBlocks / unpackBlocks', () => {
  it('match packInto/unpackFrom on random layouts', () => {
    const r = rng(12345);
    for (let iter = 0; iter < 300; iter++) {
      const t = layout(r);
      const count = 1 + r(6);
      const ext = extentOf(t);
      const n = count * t.size;
      const tab = 1024;
      const base = 64 * 1024 + 48 * 1024 + r(16); // room for negative displacements below, unaligned on purpose
      const packed = 1024 * 1024 + r(16);
      expect(table(t, tab)).toBeLessThan(64 * 1024);
      const spanEnd = base + (count - 1) * ext + t.trueUb;
      expect(spanEnd).toBeLessThan(packed);
      expect(base + t.trueLb).toBeGreaterThan(64 * 1024);

      for (let i = 64 * 1024; i < spanEnd + 64; i++) heap[i] = r(256);
      const want = new Uint8Array(n);
      packInto(heap, base, count, t, want, 0);
      expect(packBlocks(packed, base, tab, t.blocks.length / 2, ext, count)).toBe(n);
      expect(Buffer.compare(heap.subarray(packed, packed + n), want), `pack, layout ${iter}`).toBe(0);

      // Unpack fresh bytes, full or short, into a copy of the memory the JS path unpacks into too.
      const limit = r(4) === 0 ? r(n + 1) : n;
      for (let i = 0; i < n; i++) heap[packed + i] = r(256);
      const src = heap.slice(packed, packed + n);
      const jsMem = heap.slice(0, packed);
      unpackFrom(src, 0, limit, jsMem, base, count, t);
      expect(unpackBlocks(base, packed, tab, t.blocks.length / 2, ext, count, limit)).toBe(limit);
      expect(Buffer.compare(heap.subarray(0, packed), jsMem), `unpack ${limit} of ${n} bytes, layout ${iter}`).toBe(0);
    }
  });

  it('reject negative arguments and do nothing for zero counts', () => {
    expect(packBlocks(0, 0, 0, -1, 8, 1)).toBe(-1);
    expect(packBlocks(0, 0, 0, 1, 8, -1)).toBe(-1);
    expect(unpackBlocks(0, 0, 0, 1, 8, 1, -1)).toBe(-1);
    expect(packBlocks(4096, 8192, 1024, 0, 8, 5)).toBe(0);
    expect(unpackBlocks(4096, 8192, 1024, 3, 8, 0, 100)).toBe(0);
  });
});
