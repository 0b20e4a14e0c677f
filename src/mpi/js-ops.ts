import { Op } from '../ops/op.js';
import type { PredefinedOpName } from '../kernels/index.js';
import type { Datatype } from './datatypes.js';
import { quadKey } from './quad.js';
import { quadAdd, quadMul, quadNegate } from './quad-arith.js';

// Predefined reductions fmi's kernels do not run, in JS over packed bytes:
// PROD on complex numbers (a complex product, not two real ones) and every
// arithmetic op on long double and long double complex (binary128, exact to
// the last bit as the program's own arithmetic: src/mpi/quad-arith.ts).

type Combine = (a: DataView, b: DataView, at: number) => void;

const bytesOp = (unit: number, combine: Combine): Op =>
  Op.create((a: Uint8Array, b: Uint8Array) => {
    const da = new DataView(a.buffer, a.byteOffset, a.byteLength);
    const db = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let at = 0; at + unit <= a.byteLength; at += unit) combine(da, db, at);
    return a;
  }, { commutative: true });

interface Part {
  bytes: number;
  get: (dv: DataView, at: number) => number;
  set: (dv: DataView, at: number, v: number) => void;
}

const PARTS: Record<4 | 8, Part> = {
  4: { bytes: 4, get: (dv, at) => dv.getFloat32(at, true), set: (dv, at, v) => dv.setFloat32(at, v, true) },
  8: { bytes: 8, get: (dv, at) => dv.getFloat64(at, true), set: (dv, at, v) => dv.setFloat64(at, v, true) },
};

function complexOp(p: Part, name: 'SUM' | 'PROD'): Op {
  const n = p.bytes;
  return bytesOp(2 * n, (a, b, at) => {
    const [ar, ai, br, bi] = [p.get(a, at), p.get(a, at + n), p.get(b, at), p.get(b, at + n)];
    p.set(a, at, name === 'SUM' ? ar + br : ar * br - ai * bi);
    p.set(a, at + n, name === 'SUM' ? ai + bi : ar * bi + ai * br);
  });
}

/** SUM or PROD of long double complex numbers, each step rounded as C's own (a*b rounded, then the sum). */
function quadComplexOp(name: 'SUM' | 'PROD'): Op {
  const t = new DataView(new ArrayBuffer(64));
  return bytesOp(32, (a, b, at) => {
    if (name === 'SUM') {
      quadAdd(a, at, a, at, b, at);
      quadAdd(a, at + 16, a, at + 16, b, at + 16);
      return;
    }
    quadMul(t, 0, a, at, b, at);
    quadMul(t, 16, a, at + 16, b, at + 16);
    quadNegate(t, 16);
    quadMul(t, 32, a, at, b, at + 16);
    quadMul(t, 48, a, at + 16, b, at);
    quadAdd(a, at, t, 0, t, 16);
    quadAdd(a, at + 16, t, 32, t, 48);
  });
}

function quadOp(name: 'SUM' | 'PROD' | 'MAX' | 'MIN'): Op {
  if (name === 'MAX' || name === 'MIN') {
    return bytesOp(16, (a, b, at) => {
      const ka = quadKey(a, at);
      const kb = quadKey(b, at);
      if (name === 'MAX' ? kb > ka : kb < ka) for (let k = 0; k < 16; k += 8) a.setBigUint64(at + k, b.getBigUint64(at + k, true), true);
    });
  }
  const f = name === 'SUM' ? quadAdd : quadMul;
  return bytesOp(16, (a, b, at) => f(a, at, a, at, b, at));
}

/** The JS op for `name` on elements of t when the kernels cannot run it; undefined when they can (or MPI defines none). */
export function jsOpFor(name: PredefinedOpName, t: Datatype): Op | undefined {
  if (t.opClass === 'complex' && name === 'PROD') return complexOp(PARTS[t.elem === 'f32' ? 4 : 8], 'PROD');
  if (t.opClass === 'quadComplex' && (name === 'SUM' || name === 'PROD')) return quadComplexOp(name);
  if (t.opClass === 'quad' && (name === 'SUM' || name === 'PROD' || name === 'MAX' || name === 'MIN')) return quadOp(name);
  return undefined;
}
