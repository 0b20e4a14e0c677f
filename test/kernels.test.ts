import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ELEM_TYPES, OP_CODES, WASM_MIN_ELEMENTS, createArena, elemTypeOf, kernels, reduceInto, reduceJs,
  reduceScalar, setWasmMinElements, sizeClass, supports, typedArrayCtor,
  type ElemType, type NumericArray, type PredefinedOpName, type WasmBlock,
} from '../src/kernels/index.js';

const OPS = Object.keys(OP_CODES) as PredefinedOpName[];
const LENGTHS = [0, 1, 15, 16, 17, 1000, 4099];
const BITS: Record<ElemType, number> = { i8: 8, u8: 8, i16: 16, u16: 16, i32: 32, u32: 32, i64: 64, u64: 64, f32: 32, f64: 64 };
const isFloat = (t: ElemType) => t === 'f32' || t === 'f64';
const isBig = (t: ElemType) => t === 'i64' || t === 'u64';
const VALID: [PredefinedOpName, ElemType][] = OPS.flatMap((op) =>
  ELEM_TYPES.filter((t) => supports(op, t)).map((t) => [op, t] as [PredefinedOpName, ElemType]));
const INVALID: [PredefinedOpName, ElemType][] = OPS.flatMap((op) =>
  ELEM_TYPES.filter((t) => !supports(op, t)).map((t) => [op, t] as [PredefinedOpName, ElemType]));

/** Deterministic 32-bit PRNG (xorshift32), so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x >>> 0;
  };
}

/** Random elements: full-range bit patterns (negatives, values that wrap), ~1/4 zeros for the logical ops. */
function fill(a: NumericArray, t: ElemType, next: () => number): void {
  for (let i = 0; i < a.length; i++) {
    const r = next();
    const zero = (r & 3) === 0;
    if (isBig(t)) {
      const v = zero ? 0n : (BigInt(next()) << 32n) | BigInt(next());
      (a as BigInt64Array | BigUint64Array)[i] = t === 'i64' ? BigInt.asIntN(64, v) : v;
    } else if (isFloat(t)) {
      (a as Float64Array)[i] = zero ? 0 : ((next() / 2 ** 32) - 0.5) * 2000 + (r & 1 ? 1e-3 : 0);
    } else {
      (a as Uint32Array)[i] = zero ? 0 : next(); // the store keeps the low bits, sign included
    }
  }
}

/** Independent reference: integers via BigInt then wrapped, floats via Math (rounded to f32 where needed). */
function reference(op: PredefinedOpName, t: ElemType, x: number | bigint, y: number | bigint): number | bigint {
  if (isFloat(t)) {
    const a = x as number, b = y as number;
    const r = op === 'SUM' ? a + b : op === 'PROD' ? a * b : op === 'MIN' ? Math.min(a, b) : Math.max(a, b);
    return t === 'f32' ? Math.fround(r) : r;
  }
  const a = BigInt(x), b = BigInt(y);
  let r: bigint;
  switch (op) {
    case 'SUM': r = a + b; break;
    case 'PROD': r = a * b; break;
    case 'MIN': r = a < b ? a : b; break;
    case 'MAX': r = a > b ? a : b; break;
    case 'LAND': r = a !== 0n && b !== 0n ? 1n : 0n; break;
    case 'LOR': r = a !== 0n || b !== 0n ? 1n : 0n; break;
    case 'LXOR': r = (a !== 0n) !== (b !== 0n) ? 1n : 0n; break;
    case 'BAND': r = a & b; break;
    case 'BOR': r = a | b; break;
    case 'BXOR': r = a ^ b; break;
  }
  const bits = BITS[t];
  const w = t.startsWith('i') ? BigInt.asIntN(bits, r) : BigInt.asUintN(bits, r);
  return isBig(t) ? w : Number(w);
}

function expected(op: PredefinedOpName, t: ElemType, d: NumericArray, s: NumericArray): NumericArray {
  const out = new (typedArrayCtor(t))(d.length);
  for (let i = 0; i < d.length; i++) (out as Float64Array)[i] = reference(op, t, d[i]!, s[i]!) as number;
  return out;
}

function same(actual: NumericArray, want: NumericArray, label: string): void {
  expect(actual.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(actual[i], want[i])) {
      throw new Error(`${label}: element ${i} is ${String(actual[i])}, want ${String(want[i])}`);
    }
  }
}

describe('kernels - binary', () => {
  it('imports only env.memory, exports apply, has no data segments', () => {
    const bytes = readFileSync(new URL('../build/kernels.wasm', import.meta.url));
    const mod = new WebAssembly.Module(bytes);
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(mod).map((e) => e.name)).toContain('apply');
    // Walk the sections: id 11 is data, 12 data count.
    const ids: number[] = [];
    let p = 8;
    const leb = () => { let v = 0, shift = 0, b; do { b = bytes[p++]!; v += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80); return v; };
    while (p < bytes.length) { const id = bytes[p++]!; const len = leb(); ids.push(id); p += len; }
    expect(ids).not.toContain(11);
    expect(ids).not.toContain(12);
  });
});

describe('kernels - every op x type against a reference', () => {
  const arena = kernels();
  const next = rng(0x5eed);

  it.each(VALID)('%s on %s via Arena.apply, reduceInto and reduceJs', (op, t) => {
    const C = typedArrayCtor(t);
    const size = C.BYTES_PER_ELEMENT;
    for (const n of LENGTHS) {
      const d0 = new C(n), s0 = new C(n);
      fill(d0, t, next); fill(s0, t, next);
      const want = expected(op, t, d0, s0);
      const label = `${op} ${t} n=${n}`;

      // Arena.apply over blocks; dst/src one element past 16-byte alignment.
      const bd = arena.alloc((n + 1) * size), bs = arena.alloc((n + 1) * size);
      const d: WasmBlock = { ptr: bd.ptr + size, byteLength: n * size };
      const s: WasmBlock = { ptr: bs.ptr + size, byteLength: n * size };
      arena.view(d, t, n).set(d0 as never);
      arena.view(s, t, n).set(s0 as never);
      arena.apply(op, t, d, s, n);
      same(arena.view(d, t, n), want, `apply ${label}`);

      // reduceInto over views on the kernels' memory, forced to each path.
      for (const min of [0, Infinity]) {
        const saved = setWasmMinElements(min);
        const vd = arena.view(bd, t, n + 1).subarray(1) as NumericArray;
        const vs = arena.view(bs, t, n + 1).subarray(1) as NumericArray;
        vd.set(d0 as never); vs.set(s0 as never);
        reduceInto(op, vd, vs);
        setWasmMinElements(saved);
        same(vd, want, `reduceInto(wasm memory, switch at ${min}) ${label}`);
      }
      arena.free(bd); arena.free(bs);

      // reduceInto over ordinary arrays and reduceJs: the JS loops.
      const jd = d0.slice() as NumericArray;
      reduceInto(op, jd, s0);
      same(jd, want, `reduceInto(js) ${label}`);
      const rd = d0.slice() as NumericArray;
      reduceJs(op, rd, s0);
      same(rd, want, `reduceJs ${label}`);
    }
  });

  it.each(VALID.filter(([, t]) => !isFloat(t)))('%s on %s at odd byte addresses', (op, t) => {
    const C = typedArrayCtor(t);
    const size = C.BYTES_PER_ELEMENT;
    const n = 37;
    const d0 = new C(n), s0 = new C(n);
    fill(d0, t, next); fill(s0, t, next);
    const bd = arena.alloc(n * size + 16), bs = arena.alloc(n * size + 16);
    const d = { ptr: bd.ptr + 3, byteLength: n * size }, s = { ptr: bs.ptr + 5, byteLength: n * size };
    arena.bytes(d).set(new Uint8Array(d0.buffer));
    arena.bytes(s).set(new Uint8Array(s0.buffer));
    arena.apply(op, t, d, s, n);
    const got = new C(n);
    new Uint8Array(got.buffer).set(arena.bytes(d));
    same(got, expected(op, t, d0, s0), `${op} ${t} unaligned`);
    arena.free(bd); arena.free(bs);
  });

  it('dst and src may be the same block', () => {
    const b = arena.alloc(8 * 100);
    const v = arena.view(b, 'f64', 100) as Float64Array;
    v.forEach((_, i) => { v[i] = i - 50; });
    arena.apply('SUM', 'f64', b, b, 100);
    expect(arena.view(b, 'f64', 100)[99]).toBe(98);
    arena.free(b);
  });

  it('float MIN/MAX follow Math.min/Math.max for NaN and signed zeros, on both paths', () => {
    const xs = [NaN, 1, -0, 0, 2, NaN, -Infinity, 3];
    const ys = [1, NaN, 0, -0, NaN, NaN, 5, Infinity];
    for (const t of ['f32', 'f64'] as const) {
      for (const op of ['MIN', 'MAX'] as const) {
        const f = op === 'MIN' ? Math.min : Math.max;
        const n = 64; // above the threshold and several full vectors
        const want = new (typedArrayCtor(t))(n);
        const b1 = arena.alloc(n * 8), b2 = arena.alloc(n * 8);
        const d = arena.view(b1, t, n) as Float64Array, s = arena.view(b2, t, n) as Float64Array;
        for (let i = 0; i < n; i++) { d[i] = xs[i % 8]!; s[i] = ys[(i * 3) % 8]!; (want as Float64Array)[i] = f(d[i]!, s[i]!); }
        const jd = (t === 'f32' ? Float32Array.from(d) : Float64Array.from(d)) as Float64Array;
        const js = (t === 'f32' ? Float32Array.from(s) : Float64Array.from(s)) as Float64Array;
        reduceInto(op, d, s);
        same(d, want, `${op} ${t} wasm`);
        reduceJs(op, jd, js);
        same(jd, want, `${op} ${t} js`);
        arena.free(b1); arena.free(b2);
      }
    }
  });
});

describe('kernels - rejects what MPI does not define', () => {
  const arena = kernels();
  it.each(INVALID)('%s on %s throws TypeError everywhere', (op, t) => {
    const C = typedArrayCtor(t);
    const b = arena.alloc(64 * 8);
    expect(() => arena.apply(op, t, b, b, 64)).toThrow(TypeError);
    expect(() => reduceInto(op, arena.view(b, t, 64), arena.view(b, t, 64))).toThrow(TypeError);
    expect(() => reduceJs(op, new C(4), new C(4))).toThrow(TypeError);
    arena.free(b);
  });

  it('mismatched kinds, lengths, unknown names and short blocks throw', () => {
    expect(() => reduceInto('SUM', new Float64Array(4), new Float32Array(4))).toThrow(TypeError);
    expect(() => reduceInto('SUM', new Int32Array(4), new Int32Array(5))).toThrow(RangeError);
    expect(() => reduceJs('SUM', new Uint8ClampedArray(4) as never, new Uint8ClampedArray(4) as never)).toThrow(TypeError);
    expect(() => reduceInto('toString' as PredefinedOpName, new Int32Array(4), new Int32Array(4))).toThrow(TypeError);
    const b = arena.alloc(16);
    expect(() => arena.apply('SUM', 'f64', b, b, 3)).toThrow(RangeError);
    expect(() => arena.apply('SUM', 'f64', b, b, -1)).toThrow(RangeError);
    expect(() => arena.apply('SUM', 'x' as ElemType, b, b, 1)).toThrow(TypeError);
    arena.free(b);
  });
});

describe('kernels - types and scalars', () => {
  it('elemTypeOf knows every kind, Buffer is u8, clamped and DataView are not numeric', () => {
    for (const t of ELEM_TYPES) expect(elemTypeOf(new (typedArrayCtor(t))(1))).toBe(t);
    expect(elemTypeOf(Buffer.alloc(2))).toBe('u8');
    expect(elemTypeOf(new Uint8ClampedArray(2))).toBeUndefined();
    expect(elemTypeOf(new DataView(new ArrayBuffer(2)))).toBeUndefined();
  });

  it('supports: arithmetic on all types, logical and bitwise on integers only', () => {
    expect(VALID.length).toBe(4 * 10 + 6 * 8);
    expect(supports('BXOR', 'u64')).toBe(true);
    expect(supports('LAND', 'f64')).toBe(false);
  });

  it('reduceScalar on numbers and bigints', () => {
    expect(reduceScalar('SUM', 2, 3)).toBe(5);
    expect(reduceScalar('PROD', 2n ** 40n, 2n ** 40n)).toBe(2n ** 80n);
    expect(reduceScalar('MIN', -0, 0)).toBe(-0);
    expect(reduceScalar('MAX', -5n, 3n)).toBe(3n);
    expect(reduceScalar('LAND', 2, 0)).toBe(0);
    expect(reduceScalar('LOR', 0n, 7n)).toBe(1n);
    expect(reduceScalar('LXOR', 1, 9)).toBe(0);
    expect(reduceScalar('BOR', 2 ** 32 + 1, 2)).toBe(3);
    expect(reduceScalar('BXOR', 0xffn, 0x0fn)).toBe(0xf0n);
    expect(() => reduceScalar('SUM', 1, 1n)).toThrow(TypeError);
  });
});

describe('kernels - arena', () => {
  it('size classes are 16-aligned, fit the request and waste under 25%', () => {
    for (let n = 0; n < 100_000; n += 37) {
      const c = sizeClass(n);
      expect(c % 16).toBe(0);
      expect(c).toBeGreaterThanOrEqual(n);
      if (n > 64) expect(c).toBeLessThan(n * 1.25 + 16);
    }
  });

  it('reuses freed blocks and refuses double frees', () => {
    const a = createArena();
    const b1 = a.alloc(1000);
    expect(b1.ptr % 16).toBe(0);
    a.free(b1);
    const b2 = a.alloc(990);
    expect(b2.ptr).toBe(b1.ptr);
    const b3 = a.alloc(1000);
    expect(b3.ptr).not.toBe(b2.ptr);
    a.free(b2);
    expect(() => a.free(b2)).toThrow();
    expect(() => a.free({ ptr: 12345, byteLength: 8 })).toThrow();
  });

  it('grows its shared memory in large steps; views made before stay valid', () => {
    const a = createArena();
    const start = a.memory.buffer.byteLength;
    const b = a.alloc(1024 * 8);
    const old = a.view(b, 'f64', 1024) as Float64Array;
    old.forEach((_, i) => { old[i] = i * 0.5; });
    const big = a.alloc(start * 2); // forces memory.grow
    expect(a.memory.buffer.byteLength).toBeGreaterThanOrEqual(start * 3);
    expect(a.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    // Sends and receives in flight hold views: a shared memory's grow does not detach them.
    expect(old.length).toBe(1024);
    expect(old[1023]).toBe(511.5);
    const v = a.view(b, 'f64', 1024);
    expect(v[1023]).toBe(511.5);
    const bigView = a.view(big, 'f64', 1024) as Float64Array;
    bigView.fill(1);
    a.apply('SUM', 'f64', b, big, 1024);
    expect(a.view(b, 'f64', 1024)[1023]).toBe(512.5);
    // A second large block reuses space from the same growth step.
    const pages = a.memory.buffer.byteLength;
    a.alloc(1 << 20);
    expect(a.memory.buffer.byteLength).toBe(pages);
  });

  it('runs over a memory it did not create, from heapStart up', () => {
    const memory = new WebAssembly.Memory({ initial: 2 });
    const a = createArena(memory, 1000);
    const b = a.alloc(4 * 40);
    expect(b.ptr).toBeGreaterThanOrEqual(1000);
    expect(b.ptr % 16).toBe(0);
    const raw = new Int32Array(memory.buffer, b.ptr, 40);
    raw.fill(-7);
    const other = { ptr: 64, byteLength: 4 * 40 }; // a pointer "the program" owns
    new Int32Array(memory.buffer, 64, 40).fill(3);
    a.apply('PROD', 'i32', b, other, 40);
    expect(new Int32Array(memory.buffer, b.ptr, 40)[39]).toBe(-21);
  });

  it('reduceInto only takes the Wasm path on kernels() memory', () => {
    expect(WASM_MIN_ELEMENTS).toBeGreaterThan(0);
    const a = createArena();
    const b = a.alloc(8 * 100);
    const v = a.view(b, 'f64', 100) as Float64Array;
    v.fill(2);
    reduceInto('PROD', v, v); // another arena's memory: JS loop, same result
    expect(v[50]).toBe(4);
  });
});
