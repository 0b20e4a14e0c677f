import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  kernels, reduceInto, reduceJs, setWasmMinElements, typedArrayCtor,
  type WasmBlock,
} from '../src/kernels/index.js';

// Float MIN/MAX must follow Math.min/Math.max in every lane the kernels
// reach: the 4-vector loop, the single-vector loop and the scalar tail. A
// length from 1 to 67 puts each of them at every position; each pair of
// special values below lands on every lane across the lengths.

const SPECIAL = [NaN, -NaN, 0, -0, Infinity, -Infinity, 1, -1, 5e-324, -1.5e300, 2.5, 1e-40];
const PAIRS = SPECIAL.flatMap((x) => SPECIAL.map((y) => [x, y] as const));
const TYPES = ['f32', 'f64'] as const;
const OPS = ['MIN', 'MAX'] as const;

type FloatArray = Float32Array | Float64Array;

/** Same value, or both NaN; -0 and +0 differ. */
function check(got: FloatArray, want: FloatArray, label: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) throw new Error(`${label}: element ${i} is ${got[i]}, want ${want[i]}`);
  }
}

describe('kernels - float MIN/MAX keep Math.min/Math.max rules in every loop', () => {
  const arena = kernels();
  let saved = 0;
  beforeAll(() => {
    saved = setWasmMinElements(0); // Wasm for every length, not only from 32 elements
  });
  afterAll(() => {
    setWasmMinElements(saved);
  });

  for (const t of TYPES) {
    for (const op of OPS) {
      it(`${op} ${t}: NaN, ±0, ±Inf at lengths 1..67, aligned and not, through reduceInto, apply and reduceJs`, () => {
        const C = typedArrayCtor(t) as unknown as { new (n: number): FloatArray; new (b: ArrayBufferLike, o: number, n: number): FloatArray; BYTES_PER_ELEMENT: number };
        const size = C.BYTES_PER_ELEMENT;
        const f = op === 'MIN' ? Math.min : Math.max;
        const bd = arena.alloc(80 * size);
        const bs = arena.alloc(80 * size);
        for (let n = 1; n <= 67; n++) {
          for (const skew of [0, 1]) {
            // skew 1: one element past 16-byte alignment (the kernels need none).
            const d = new C(arena.memory.buffer, bd.ptr + skew * size, n);
            const s = new C(arena.memory.buffer, bs.ptr + skew * size, n);
            const x = new C(n), y = new C(n), want = new C(n);
            for (let i = 0; i < n; i++) {
              const [a, b] = PAIRS[(i * 7 + n * 13 + skew) % PAIRS.length]!;
              x[i] = a;
              y[i] = b;
              want[i] = f(x[i]!, y[i]!); // from the stored (rounded) inputs
            }
            const label = `${op} ${t} n=${n} skew=${skew}`;

            d.set(x); s.set(y);
            reduceInto(op, d, s);
            check(d, want, `${label} reduceInto`);

            d.set(x); s.set(y);
            const at = (b: WasmBlock): WasmBlock => ({ ptr: b.ptr + skew * size, byteLength: n * size });
            arena.apply(op, t, at(bd), at(bs), n);
            check(d, want, `${label} apply`);

            const jd = C === Float32Array ? Float32Array.from(x) : Float64Array.from(x);
            reduceJs(op, jd, y);
            check(jd, want, `${label} js`);

            // dst and src the same array: x op x is x, NaN stays NaN, -0 stays -0.
            d.set(x);
            reduceInto(op, d, d);
            check(d, x, `${label} in place`);
          }
        }
        arena.free(bd);
        arena.free(bs);
      });
    }
  }

  it('a NaN result is a NaN whatever the other operand, in either position', () => {
    for (const t of TYPES) {
      const n = 64;
      const bd = arena.alloc(n * 8), bs = arena.alloc(n * 8);
      for (const op of OPS) {
        for (const nanFirst of [true, false]) {
          const d = arena.view(bd, t, n) as FloatArray, s = arena.view(bs, t, n) as FloatArray;
          for (let i = 0; i < n; i++) {
            const other = SPECIAL[i % SPECIAL.length]!;
            d[i] = nanFirst ? NaN : other;
            s[i] = nanFirst ? other : NaN;
          }
          reduceInto(op, d, s);
          expect(Array.from(d).every(Number.isNaN), `${op} ${t} nanFirst=${nanFirst}`).toBe(true);
        }
      }
      arena.free(bd); arena.free(bs);
    }
  });
});
