import { Combiner, Distribute, Err, ORDER_C, ORDER_FORTRAN } from './abi.js';
import { build, extentOf, type Datatype, type Run } from './datatypes.js';
import { MpiError } from './errors.js';

/** Which global indices of one dimension (of `g`) the process at coordinate `c` of `p` holds, in increasing order. */
function indicesOf(g: number, distrib: number, darg: number, p: number, c: number, dim: number): number[] {
  const out: number[] = [];
  if (distrib === Distribute.NONE) {
    if (p !== 1) throw new MpiError(Err.ARG, `dimension ${dim} is not distributed, but has ${p} processes`);
    for (let i = 0; i < g; i++) out.push(i);
    return out;
  }
  if (darg !== Distribute.DFLT_DARG && darg <= 0) throw new MpiError(Err.ARG, `dimension ${dim}: distribution argument ${darg} must be positive`);
  if (distrib === Distribute.BLOCK) {
    const b = darg === Distribute.DFLT_DARG ? Math.ceil(g / p) : darg;
    if (b * p < g) throw new MpiError(Err.ARG, `dimension ${dim}: blocks of ${b} on ${p} processes do not cover ${g} elements`);
    for (let i = c * b; i < Math.min((c + 1) * b, g); i++) out.push(i);
    return out;
  }
  if (distrib === Distribute.CYCLIC) {
    const b = darg === Distribute.DFLT_DARG ? 1 : darg;
    for (let start = c * b; start < g; start += p * b) for (let i = start; i < Math.min(start + b, g); i++) out.push(i);
    return out;
  }
  throw new MpiError(Err.ARG, `dimension ${dim}: unknown distribution ${distrib}`);
}

/**
 * MPI_Type_create_darray: the part of a `gsizes` array that process `rank`
 * of a `psizes` grid (ranks in row-major order) holds, as one element that
 * spans the whole array. Elements come in the array's memory order.
 */
export function darray(size: number, rank: number, gsizes: number[], distribs: number[], dargs: number[], psizes: number[], order: number, old: Datatype, oldH: number): Datatype {
  const n = gsizes.length;
  if (order !== ORDER_C && order !== ORDER_FORTRAN) throw new MpiError(Err.ARG, `order must be MPI_ORDER_C or MPI_ORDER_FORTRAN, got ${order}`);
  if (gsizes.some((g) => g < 1) || psizes.some((p) => p < 1)) throw new MpiError(Err.ARG, `sizes must be positive: gsizes [${gsizes}], psizes [${psizes}]`);
  if (psizes.reduce((a, b) => a * b, 1) !== size) throw new MpiError(Err.ARG, `a process grid of ${psizes.join('x')} is not ${size} processes`);
  if (!(rank >= 0 && rank < size)) throw new MpiError(Err.RANK, `rank ${rank} is not in a grid of ${size}`);
  const coords = new Array<number>(n);
  for (let i = n - 1, r = rank; i >= 0; i--) {
    coords[i] = r % psizes[i]!;
    r = Math.floor(r / psizes[i]!);
  }
  const idx = gsizes.map((g, i) => indicesOf(g, distribs[i]!, dargs[i]!, psizes[i]!, coords[i]!, i));
  // Walk dimensions slowest to fastest: C order ends with the last one, Fortran with the first.
  const dims = order === ORDER_C ? [...Array(n).keys()] : [...Array(n).keys()].reverse();
  const ext = extentOf(old);
  const stride = new Array<number>(n);
  let s = ext;
  for (let k = n - 1; k >= 0; k--) {
    stride[dims[k]!] = s;
    s *= gsizes[dims[k]!]!;
  }
  const runs: Run[] = [];
  const fast = dims[n - 1]!;
  const walk = (k: number, base: number): void => {
    if (k === n - 1) {
      // Consecutive indices of the fastest dimension make one run.
      const list = idx[fast]!;
      for (let a = 0; a < list.length; ) {
        let b = a + 1;
        while (b < list.length && list[b] === list[b - 1]! + 1) b++;
        runs.push({ disp: base + list[a]! * stride[fast]!, count: b - a, type: old });
        a = b;
      }
      return;
    }
    const d = dims[k]!;
    for (const i of idx[d]!) walk(k + 1, base + i * stride[d]!);
  };
  walk(0, 0);
  const t = build(runs, { combiner: Combiner.DARRAY, ints: [size, rank, n, ...gsizes, ...distribs, ...dargs, ...psizes, order], types: [oldH] });
  t.lb = 0;
  t.ub = s;
  t.dense = t.blocks.length === 2 && t.blocks[0] === 0 && t.blocks[1] === s && t.size === s ? 0 : undefined;
  return t;
}
