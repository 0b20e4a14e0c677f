import { describe, expect, it } from 'vitest';
import { kernels, reduceInto } from '../src/kernels/index.js';

// reduceInto remembers the views of its last Wasm call so it need not fetch
// their buffer again. A view on another buffer must still take the JS path
// (and the Wasm memory at the same offsets stay untouched), whatever came before.

describe('kernels - reduceInto picks Wasm only for views on the kernels memory', () => {
  it('alternating Wasm views and look-alike views on other buffers', () => {
    const arena = kernels();
    const n = 256;
    const bd = arena.alloc(n * 8);
    const bs = arena.alloc(n * 8);
    const d = arena.view(bd, 'f64', n) as Float64Array;
    const s = arena.view(bs, 'f64', n) as Float64Array;
    // Same offsets and lengths, other memory: a plain buffer as long as the Wasm one.
    const other = new ArrayBuffer(arena.memory.buffer.byteLength);
    const od = new Float64Array(other, bd.ptr, n);
    const os = new Float64Array(other, bs.ptr, n);
    for (let round = 0; round < 3; round++) {
      d.fill(1);
      s.fill(2);
      reduceInto('SUM', d, s);
      expect(d.every((x) => x === 3)).toBe(true);

      od.fill(10);
      os.fill(20);
      d.fill(1);
      reduceInto('SUM', od, os); // dst on the other buffer
      expect(od.every((x) => x === 30)).toBe(true);
      expect(d.every((x) => x === 1)).toBe(true);

      reduceInto('SUM', d, os); // mixed: JS path, reads the other buffer
      expect(d.every((x) => x === 21)).toBe(true);
      reduceInto('SUM', od, s); // mixed the other way
      expect(od.every((x) => x === 32)).toBe(true);
      expect(s.every((x) => x === 2)).toBe(true);
    }
    arena.free(bd);
    arena.free(bs);
  });
});
