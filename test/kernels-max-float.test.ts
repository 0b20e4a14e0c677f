import { describe, expect, it } from 'vitest';
import { kernels, reduceInto, typedArrayCtor } from '../src/kernels/index.js';

// Float MAX runs a fast pass per 4 KiB chunk and redoes only the chunks in
// which some lane had a NaN in src or -0 against +0 (assembly/max-float.ts).
// These tests put such lanes in some chunks and not others, at chunk edges,
// in the vector loops and in the scalar tail, and check every element
// against Math.max (Object.is: NaN is NaN, -0 and +0 differ).

const CHUNK = 4096;
type FloatArray = Float32Array | Float64Array;

function check(got: FloatArray, want: FloatArray, label: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${label}: element ${i} is ${got[i]}, want ${want[i]}`);
  }
}

/** Ordinary values that differ between x and y, so that the fast pass alone is right where nothing special is placed. */
function fill(x: FloatArray, y: FloatArray): void {
  for (let i = 0; i < x.length; i++) {
    x[i] = ((i * 7919) % 1000) / 8 - 60;
    y[i] = ((i * 104729) % 1000) / 8 - 60;
  }
}

/** reduceInto('MAX') over copies of x and y in Wasm memory, `skew` elements past 16-byte alignment; checks against Math.max. */
function run(t: 'f32' | 'f64', x: FloatArray, y: FloatArray, skew: number, label: string): void {
  const arena = kernels();
  const C = typedArrayCtor(t) as unknown as { new (b: ArrayBufferLike, o: number, n: number): FloatArray; BYTES_PER_ELEMENT: number };
  const size = C.BYTES_PER_ELEMENT;
  const n = x.length;
  const bd = arena.alloc((n + 4) * size);
  const bs = arena.alloc((n + 4) * size);
  try {
    const d = new C(arena.memory.buffer, bd.ptr + skew * size, n);
    const s = new C(arena.memory.buffer, bs.ptr + skew * size, n);
    d.set(x);
    s.set(y);
    const want = x.map((v, i) => Math.max(v, y[i]!)) as FloatArray;
    reduceInto('MAX', d, s);
    check(d, want, label);
    // src is never written.
    check(s, y, `${label} src`);
  } finally {
    arena.free(bd);
    arena.free(bs);
  }
}

describe('kernels - float MAX: fast pass per chunk, exact redo of the chunks that need it', () => {
  for (const t of ['f32', 'f64'] as const) {
    const C = typedArrayCtor(t) as unknown as { new (n: number): FloatArray; BYTES_PER_ELEMENT: number };
    const perChunk = CHUNK / C.BYTES_PER_ELEMENT;

    it(`${t}: ordinary data over 0..3 chunks plus tails, no special lane`, () => {
      for (const n of [0, 1, 3, 4, 15, 16, 17, perChunk - 1, perChunk, perChunk + 1, perChunk + 5, 3 * perChunk + 7]) {
        for (const skew of [0, 1]) {
          const x = new C(n), y = new C(n);
          fill(x, y);
          run(t, x, y, skew, `${t} n=${n} skew=${skew}`);
        }
      }
    });

    it(`${t}: one NaN (in src or dst) or one -0/+0 pair at chunk edges, mid-chunk and in the tail`, () => {
      const n = 3 * perChunk + 3; // three whole chunks and a 3-element scalar tail
      const at = [0, 1, perChunk - 1, perChunk, perChunk + 1, 2 * perChunk + 17, 3 * perChunk - 1, 3 * perChunk, n - 1];
      const cases: [string, number, number][] = [['NaN in src', 1, NaN], ['NaN in dst', NaN, 1], ['-0 vs +0', -0, 0], ['+0 vs -0', 0, -0], ['-0 vs -0', -0, -0], ['-NaN in src', -1, -NaN]];
      for (const skew of [0, 1]) {
        for (const i of at) {
          for (const [name, a, b] of cases) {
            const x = new C(n), y = new C(n);
            fill(x, y);
            x[i] = a;
            y[i] = b;
            run(t, x, y, skew, `${t} ${name} at ${i} skew=${skew}`);
          }
        }
      }
    });

    it(`${t}: special lanes in every chunk, every lane of a vector`, () => {
      const n = 2 * perChunk + 9;
      const x = new C(n), y = new C(n);
      fill(x, y);
      const special: [number, number][] = [[1, NaN], [NaN, -1], [-0, 0], [0, -0], [-0, -0], [Infinity, NaN], [-Infinity, -0]];
      for (let i = 0; i < n; i += 5) {
        const [a, b] = special[i % special.length]!;
        x[i] = a;
        y[i] = b;
      }
      for (const skew of [0, 1]) run(t, x, y, skew, `${t} dense specials skew=${skew}`);
    });

    it(`${t}: dst and src the same array keeps NaN and -0`, () => {
      const arena = kernels();
      const n = perChunk + 11;
      const b = arena.alloc(n * C.BYTES_PER_ELEMENT);
      const v = arena.view(b, t, n) as FloatArray;
      for (let i = 0; i < n; i++) v[i] = i % 3 === 0 ? NaN : i % 3 === 1 ? -0 : i - 50;
      const want = v.slice();
      reduceInto('MAX', v, v);
      check(v, want, `${t} in place`);
      expect(Object.is(v[1], -0)).toBe(true);
      arena.free(b);
    });
  }
});
