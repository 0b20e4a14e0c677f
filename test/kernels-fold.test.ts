import { describe, expect, it } from 'vitest';
import { kernelModule, type Fold4Fn, type FoldFn, type KernelFn } from '../src/kernels/arena.js';
import { ELEM_TYPES, OP_CODES, TYPE_CODES, supports, typedArrayCtor, type ElemType, type NumericArray, type PredefinedOpName } from '../src/kernels/types.js';

// The fold export (assembly/index.ts): dst = (a op b) op c in one pass, or
// a op b for c = 0, and fold4's ((a op b) op c) op d, must give the bits of
// apply() run once, twice or three times in
// place, for every op and type, into a separate block or over a, at lengths
// that end in each loop (64-byte, 16-byte, scalar), and across the 4 KiB
// chunks of float MAX with NaNs and zeros of both signs in any operand.

const LENGTHS = [0, 1, 3, 17, 33, 1000, 1537, 4099];
const MAX_BYTES = 4099 * 8 + 64;

function instance(): { mem: WebAssembly.Memory; apply: KernelFn; fold: FoldFn; fold4: Fold4Fn } {
  const mem = new WebAssembly.Memory({ initial: 4 });
  const e = new WebAssembly.Instance(kernelModule(false), { env: { memory: mem } }).exports;
  return { mem, apply: e.apply as KernelFn, fold: e.fold as FoldFn, fold4: e.fold4 as Fold4Fn };
}

/** Deterministic values: full-range integers, floats with NaNs, infinities, zeros of both signs, ~1/4 zeros. */
function fill(v: NumericArray, t: ElemType, seed: number): void {
  let x = seed;
  const next = () => ((x = (x * 1103515245 + 12345) >>> 0), x);
  const specials = [NaN, -0, 0, Infinity, -Infinity, 1e-310];
  for (let i = 0; i < v.length; i++) {
    const r = next();
    if (t === 'f32' || t === 'f64') v[i] = r % 9 === 0 ? specials[r % specials.length]! : (r / 2 ** 32 - 0.5) * 10 ** ((r % 20) - 10);
    else if (t === 'i64' || t === 'u64') (v as BigInt64Array)[i] = r % 4 === 0 ? 0n : BigInt.asIntN(64, (BigInt(r) << 32n) | BigInt(next()));
    else v[i] = r % 4 === 0 ? 0 : r;
  }
}

const bytesOf = (v: NumericArray) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Bitwise equality (NaN payloads and zero signs too); Buffer.compare, as toEqual over bytes is slow. */
function same(got: NumericArray, want: NumericArray, label: string): void {
  if (Buffer.compare(bytesOf(got), bytesOf(want)) !== 0) expect.fail(`${label}: not the same bits`);
}

describe('fold and fold4: two and three operands per pass, the bits of apply() in place', () => {
  const { mem, apply, fold, fold4 } = instance();
  const at = (k: number, skew: number) => 64 + k * MAX_BYTES + skew;
  for (const t of ELEM_TYPES) {
    const ops = (Object.keys(OP_CODES) as PredefinedOpName[]).filter((op) => supports(op, t));
    it(`${t}: ${ops.join(' ')}`, () => {
      const C = typedArrayCtor(t);
      const view = (k: number, skew: number, n: number) => new C(mem.buffer, at(k, skew), n);
      for (const op of ops) {
        for (const n of LENGTHS) {
          for (const skew of [0, C.BYTES_PER_ELEMENT]) {
            const o = OP_CODES[op];
            const tc = TYPE_CODES[t];
            const a = view(0, skew, n), b = view(1, skew, n), c = view(2, skew, n), e = view(5, skew, n);
            fill(a, t, n * 3 + 1); fill(b, t, n * 5 + 2); fill(c, t, n * 7 + 3); fill(e, t, n * 11 + 4);
            const inputs = [a.slice(), b.slice(), c.slice(), e.slice()];
            // What two passes in place give: w = a; w op= b; w op= c.
            const w = view(3, skew, n);
            w.set(a as never);
            expect(apply(o, tc, at(3, skew), at(1, skew), n)).toBe(0);
            const two = w.slice();
            expect(apply(o, tc, at(3, skew), at(2, skew), n)).toBe(0);
            const three = w.slice();
            expect(apply(o, tc, at(3, skew), at(5, skew), n)).toBe(0);
            const four = w.slice();
            // Into a separate block, then over a.
            const d = view(4, skew, n);
            expect(fold(o, tc, at(4, skew), at(0, skew), at(1, skew), 0, n)).toBe(0);
            same(d, two, `${op} ${t} n=${n} a op b`);
            expect(fold(o, tc, at(4, skew), at(0, skew), at(1, skew), at(2, skew), n)).toBe(0);
            same(d, three, `${op} ${t} n=${n} (a op b) op c`);
            expect(fold4(o, tc, at(4, skew), at(0, skew), at(1, skew), at(2, skew), 0, n)).toBe(0);
            same(d, three, `${op} ${t} n=${n} fold4 without d`);
            expect(fold4(o, tc, at(4, skew), at(0, skew), at(1, skew), at(2, skew), at(5, skew), n)).toBe(0);
            same(d, four, `${op} ${t} n=${n} ((a op b) op c) op d`);
            same(e, inputs[3]!, `${op} ${t} n=${n} d unchanged`);
            same(b, inputs[1]!, `${op} ${t} n=${n} b unchanged`);
            same(c, inputs[2]!, `${op} ${t} n=${n} c unchanged`);
            same(a, inputs[0]!, `${op} ${t} n=${n} a unchanged`);
            expect(fold(o, tc, at(0, skew), at(0, skew), at(1, skew), at(2, skew), n)).toBe(0);
            same(a, three, `${op} ${t} n=${n} in place`);
            a.set(inputs[0] as never);
            expect(fold4(o, tc, at(0, skew), at(0, skew), at(1, skew), at(2, skew), at(5, skew), n)).toBe(0);
            same(a, four, `${op} ${t} n=${n} fold4 in place`);
          }
        }
      }
    });
  }
  it('rejects what apply rejects', () => {
    expect(fold(OP_CODES.BAND, TYPE_CODES.f64, 64, 128, 192, 0, 1)).toBe(-1);
    expect(fold(OP_CODES.SUM, 99, 64, 128, 192, 256, 1)).toBe(-1);
    expect(fold(OP_CODES.SUM, TYPE_CODES.f64, 64, 128, 192, 256, -1)).toBe(-1);
    expect(fold4(OP_CODES.BAND, TYPE_CODES.f64, 64, 128, 192, 256, 320, 1)).toBe(-1);
    expect(fold4(OP_CODES.SUM, TYPE_CODES.f64, 64, 128, 192, 256, 320, -1)).toBe(-1);
  });
});
