import { CART, DIST_GRAPH, Err, GRAPH, PROC_NULL, UNDEFINED } from './abi.js';
import { MpiError } from './errors.js';
import { addComm } from './comms.js';
import type { CommEntry, Impl, MpiRuntime, Topology } from './runtime.js';

// Cartesian topologies: row-major rank order (the last dimension varies
// fastest), as MPI specifies. `reorder` is accepted and ignored: ranks keep
// their order, which is always a valid choice.

type Cart = Extract<Topology, { kind: 'cart' }>;

function cart(rt: MpiRuntime, h: number): CommEntry & { topo: Cart } {
  const c = rt.comm(h);
  if (c.topo?.kind !== 'cart') throw new MpiError(Err.TOPOLOGY, 'the communicator has no Cartesian topology (use MPI_Cart_create)');
  return c as CommEntry & { topo: Cart };
}

export function coordsOf(dims: number[], rank: number): number[] {
  const out = new Array<number>(dims.length);
  for (let i = dims.length - 1; i >= 0; i--) {
    out[i] = rank % dims[i]!;
    rank = Math.floor(rank / dims[i]!);
  }
  return out;
}

/** The rank at `coords`, wrapping periodic dimensions; undefined when outside a non-periodic one. */
export function rankOf(dims: number[], periods: boolean[], coords: number[]): number | undefined {
  let r = 0;
  for (let i = 0; i < dims.length; i++) {
    let x = coords[i]!;
    if (periods[i]) x = ((x % dims[i]!) + dims[i]!) % dims[i]!;
    else if (x < 0 || x >= dims[i]!) return undefined;
    r = r * dims[i]! + x;
  }
  return r;
}

/** Balanced factorization of n into the dimensions left 0 in `dims`, in non-increasing order. */
export function dimsCreate(n: number, dims: number[]): number[] {
  let fixed = 1;
  for (const d of dims) {
    if (d < 0) throw new MpiError(Err.DIMS, `dimension ${d} is negative`);
    if (d > 0) fixed *= d;
  }
  const free = dims.filter((d) => d === 0).length;
  if (n % fixed !== 0) throw new MpiError(Err.DIMS, `${n} nodes do not divide by the fixed dimensions (product ${fixed})`);
  if (free === 0) {
    if (fixed !== n) throw new MpiError(Err.DIMS, `the dimensions multiply to ${fixed}, not ${n}`);
    return dims;
  }
  let rest = n / fixed;
  const primes: number[] = [];
  for (let p = 2; p * p <= rest; p++) while (rest % p === 0) primes.push(p), (rest /= p);
  if (rest > 1) primes.push(rest);
  const f = new Array<number>(free).fill(1);
  // Largest primes first, each onto the currently smallest dimension.
  for (const p of primes.reverse()) {
    let min = 0;
    for (let i = 1; i < free; i++) if (f[i]! < f[min]!) min = i;
    f[min]! *= p;
  }
  f.sort((a, b) => b - a);
  let k = 0;
  return dims.map((d) => (d === 0 ? f[k++]! : d));
}

/** The first n ranks of c make a new communicator with topology `topo` at newPtr; the others get MPI_COMM_NULL. */
export function withTopology(rt: MpiRuntime, c: CommEntry, n: number, topo: Topology, newPtr: number): Promise<number> {
  const me = c.comm.rank;
  return c.comm.split(me < n ? 0 : UNDEFINED, me).then((comm) => {
    rt.mem.setI32(newPtr, comm ? addComm(rt, c, comm, c.group.slice(0, n), topo) : 0);
    return 0;
  });
}

export const TOPO_IMPLS: Record<string, Impl> = {
  MPI_Cart_create(rt, commH, ndims, dimsPtr, periodsPtr, _reorder, newPtr) {
    const c = rt.comm(commH);
    if (ndims < 0) throw new MpiError(Err.DIMS, `ndims ${ndims} is negative`);
    const dims = rt.mem.i32s(dimsPtr, ndims);
    const periods = rt.mem.i32s(periodsPtr, ndims).map((p) => p !== 0);
    if (dims.some((d) => d <= 0)) throw new MpiError(Err.DIMS, `dimensions must be positive, got [${dims}]`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > c.comm.size) throw new MpiError(Err.DIMS, `a ${dims.join('x')} grid needs ${n} ranks, the communicator has ${c.comm.size}`);
    return withTopology(rt, c, n, { kind: 'cart', dims, periods }, newPtr);
  },

  MPI_Cart_sub(rt, commH, remainPtr, newPtr) {
    const c = cart(rt, commH);
    const { dims, periods } = c.topo;
    const remain = rt.mem.i32s(remainPtr, dims.length).map((x) => x !== 0);
    const mine = coordsOf(dims, c.comm.rank);
    // Ranks that agree on every dropped coordinate form one sub-grid.
    const key = (coords: number[]) => coords.filter((_, i) => !remain[i]).join(',');
    const members: number[] = [];
    for (let r = 0; r < c.comm.size; r++) if (key(coordsOf(dims, r)) === key(mine)) members.push(r);
    const color = rankOf(dims.map((d, i) => (remain[i] ? 1 : d)), periods, mine.map((x, i) => (remain[i] ? 0 : x)))!;
    return c.comm.split(color, c.comm.rank).then((comm) => {
      const topo: Cart = { kind: 'cart', dims: dims.filter((_, i) => remain[i]), periods: periods.filter((_, i) => remain[i]) };
      rt.mem.setI32(newPtr, addComm(rt, c, comm!, members.map((r) => c.group[r]!), topo));
      return 0;
    });
  },

  MPI_Cart_coords(rt, commH, rank, maxdims, coordsPtr) {
    const c = cart(rt, commH);
    if (!(rank >= 0 && rank < c.comm.size)) throw new MpiError(Err.RANK, `rank ${rank} is not in the grid`);
    rt.mem.setI32s(coordsPtr, coordsOf(c.topo.dims, rank).slice(0, maxdims));
    return 0;
  },

  MPI_Cart_rank(rt, commH, coordsPtr, rankPtr) {
    const { topo } = cart(rt, commH);
    const coords = rt.mem.i32s(coordsPtr, topo.dims.length);
    const r = rankOf(topo.dims, topo.periods, coords);
    if (r === undefined) throw new MpiError(Err.RANK, `coordinates (${coords}) are outside the grid`);
    rt.mem.setI32(rankPtr, r);
    return 0;
  },

  MPI_Cart_shift(rt, commH, direction, disp, srcPtr, dstPtr) {
    const c = cart(rt, commH);
    const { dims, periods } = c.topo;
    if (!(direction >= 0 && direction < dims.length)) throw new MpiError(Err.ARG, `direction ${direction} of a ${dims.length}-d grid`);
    const me = coordsOf(dims, c.comm.rank);
    const at = (d: number) => rankOf(dims, periods, me.map((x, i) => (i === direction ? x + d : x))) ?? PROC_NULL;
    rt.mem.setI32(srcPtr, at(-disp));
    rt.mem.setI32(dstPtr, at(disp));
    return 0;
  },

  // The mapping fmi chooses is the identity: ranks keep their numbers, those beyond the grid get MPI_UNDEFINED.
  MPI_Cart_map(rt, commH, ndims, dimsPtr, _periodsPtr, newrankPtr) {
    const c = rt.comm(commH);
    if (ndims < 0) throw new MpiError(Err.DIMS, `ndims must be non-negative, got ${ndims}`);
    const dims = rt.mem.i32s(dimsPtr, ndims);
    if (dims.some((d) => d <= 0)) throw new MpiError(Err.DIMS, `every dimension must be positive, got [${dims.join(', ')}]`);
    const n = dims.reduce((a, b) => a * b, 1);
    if (n > c.comm.size) throw new MpiError(Err.DIMS, `a grid of ${n} does not fit ${c.comm.size} ranks`);
    rt.mem.setI32(newrankPtr, c.comm.rank < n ? c.comm.rank : UNDEFINED);
    return 0;
  },

  MPI_Cart_get(rt, commH, maxdims, dimsPtr, periodsPtr, coordsPtr) {
    const c = cart(rt, commH);
    const { dims, periods } = c.topo;
    rt.mem.setI32s(dimsPtr, dims.slice(0, maxdims));
    rt.mem.setI32s(periodsPtr, periods.slice(0, maxdims).map((p) => (p ? 1 : 0)));
    rt.mem.setI32s(coordsPtr, coordsOf(dims, c.comm.rank).slice(0, maxdims));
    return 0;
  },

  MPI_Cartdim_get(rt, commH, ndimsPtr) {
    rt.mem.setI32(ndimsPtr, cart(rt, commH).topo.dims.length);
    return 0;
  },

  MPI_Topo_test(rt, commH, statusPtr) {
    const kind = rt.comm(commH).topo?.kind;
    rt.mem.setI32(statusPtr, kind === 'cart' ? CART : kind === 'graph' ? GRAPH : kind === 'dist' ? DIST_GRAPH : UNDEFINED);
    return 0;
  },

  MPI_Dims_create(rt, n, ndims, dimsPtr) {
    if (n < 1) throw new MpiError(Err.ARG, `nnodes must be positive, got ${n}`);
    rt.mem.setI32s(dimsPtr, dimsCreate(n, rt.mem.i32s(dimsPtr, ndims)));
    return 0;
  },
};
