import { Combiner, Err, MAX_OBJECT_NAME, TypeClass, datatype, type DATATYPE_NAMES } from './abi.js';
import { darray } from './darray.js';
import * as dt from './datatypes.js';
import { MpiError } from './errors.js';
import type { Impl, MpiRuntime } from './runtime.js';
import { copyTypeAttrs, deleteTypeAttrs } from './type-attrs.js';

/** MPI_Type_match_size's candidates by class (the Fortran types, as MPI 3.1 §17.1.9 matches them). */
const MATCH: Record<number, readonly (typeof DATATYPE_NAMES)[number][]> = {
  [TypeClass.REAL]: ['MPI_REAL4', 'MPI_REAL8', 'MPI_REAL16'],
  [TypeClass.INTEGER]: ['MPI_INTEGER1', 'MPI_INTEGER2', 'MPI_INTEGER4', 'MPI_INTEGER8'],
  [TypeClass.COMPLEX]: ['MPI_COMPLEX8', 'MPI_COMPLEX16', 'MPI_COMPLEX32'],
};

function add(rt: MpiRuntime, ptr: number, t: dt.Datatype): number {
  rt.mem.setI32(ptr, rt.datatypes.add(t));
  return 0;
}

const old = (rt: MpiRuntime, h: number) => rt.datatype(h, false);

/** MPI_Aint arrays are 4 bytes per entry on wasm32. */
const aints = (rt: MpiRuntime, ptr: number, n: number) => rt.mem.i32s(ptr, n);

export const TYPE_IMPLS: Record<string, Impl> = {
  MPI_Type_contiguous: (rt, count, h, out) => add(rt, out, dt.contiguous(count, old(rt, h), h)),
  MPI_Type_vector: (rt, count, bl, stride, h, out) => add(rt, out, dt.vector(count, bl, stride, old(rt, h), h, false)),
  MPI_Type_create_hvector: (rt, count, bl, stride, h, out) => add(rt, out, dt.vector(count, bl, stride, old(rt, h), h, true)),

  MPI_Type_indexed: (rt, n, bls, displs, h, out) =>
    add(rt, out, dt.indexed(rt.mem.i32s(bls, rt.count(n)), rt.mem.i32s(displs, n), old(rt, h), h, false)),
  MPI_Type_create_hindexed: (rt, n, bls, displs, h, out) =>
    add(rt, out, dt.indexed(rt.mem.i32s(bls, rt.count(n)), aints(rt, displs, n), old(rt, h), h, true)),
  MPI_Type_create_indexed_block: (rt, n, bl, displs, h, out) =>
    add(rt, out, dt.indexedBlock(bl, rt.mem.i32s(displs, rt.count(n)), old(rt, h), h, false)),
  MPI_Type_create_hindexed_block: (rt, n, bl, displs, h, out) =>
    add(rt, out, dt.indexedBlock(bl, aints(rt, displs, rt.count(n)), old(rt, h), h, true)),

  MPI_Type_create_struct(rt, n, bls, displs, types, out) {
    const hs = rt.mem.i32s(types, rt.count(n));
    return add(rt, out, dt.struct(rt.mem.i32s(bls, n), aints(rt, displs, n), hs.map((h) => old(rt, h)), hs));
  },

  MPI_Type_create_subarray(rt, ndims, sizes, subsizes, starts, order, h, out) {
    if (ndims < 1) throw new MpiError(Err.DIMS, `ndims must be positive, got ${ndims}`);
    const [a, b, c] = [sizes, subsizes, starts].map((p) => rt.mem.i32s(p, ndims));
    return add(rt, out, dt.subarray(a!, b!, c!, order, old(rt, h), h));
  },

  MPI_Type_create_darray(rt, size, rank, ndims, gsizes, distribs, dargs, psizes, order, h, out) {
    if (ndims < 1) throw new MpiError(Err.DIMS, `ndims must be positive, got ${ndims}`);
    const [g, d, a, p] = [gsizes, distribs, dargs, psizes].map((ptr) => rt.mem.i32s(ptr, ndims));
    return add(rt, out, darray(size, rank, g!, d!, a!, p!, order, old(rt, h), h));
  },

  MPI_Type_create_resized: (rt, h, lb, extent, out) => add(rt, out, dt.resized(old(rt, h), h, lb, extent)),
  MPI_Type_dup(rt, h, out) {
    const t = rt.datatypes.add(dt.dup(old(rt, h), h));
    try {
      copyTypeAttrs(rt, h, t);
    } catch (err) {
      // A copy callback failed: the call fails with its error, and no datatype is made.
      deleteTypeAttrs(rt, t);
      rt.datatypes.remove(t);
      throw err;
    }
    rt.mem.setI32(out, t);
    return 0;
  },

  MPI_Type_commit(rt, ptr) {
    const t = old(rt, rt.mem.i32(ptr));
    t.committed = true;
    return 0;
  },

  MPI_Type_free(rt, ptr) {
    const h = rt.mem.i32(ptr);
    const t = old(rt, h);
    if (t.predefined) throw new MpiError(Err.TYPE, `${t.name} is predefined and cannot be freed`);
    deleteTypeAttrs(rt, h);
    // Types built from this one keep their own flattened copy: only the handle and the
    // block table go, once no pending operation may use them.
    rt.retire(() => {
      rt.datatypes.remove(h);
      rt.packer.forget(t);
    });
    rt.mem.setI32(ptr, 0);
    return 0;
  },

  MPI_Type_size(rt, h, out) {
    rt.mem.setI32(out, old(rt, h).size);
    return 0;
  },

  MPI_Type_size_x(rt, h, out) {
    rt.mem.setI64(out, old(rt, h).size);
    return 0;
  },

  MPI_Type_get_extent(rt, h, lb, extent) {
    const t = old(rt, h);
    rt.mem.setI32(lb, t.lb);
    rt.mem.setI32(extent, dt.extentOf(t));
    return 0;
  },

  MPI_Type_get_true_extent(rt, h, lb, extent) {
    const t = old(rt, h);
    rt.mem.setI32(lb, t.trueLb);
    rt.mem.setI32(extent, t.trueUb - t.trueLb);
    return 0;
  },

  MPI_Type_get_extent_x(rt, h, lb, extent) {
    const t = old(rt, h);
    rt.mem.setI64(lb, t.lb);
    rt.mem.setI64(extent, dt.extentOf(t));
    return 0;
  },

  MPI_Type_get_true_extent_x(rt, h, lb, extent) {
    const t = old(rt, h);
    rt.mem.setI64(lb, t.trueLb);
    rt.mem.setI64(extent, t.trueUb - t.trueLb);
    return 0;
  },

  MPI_Type_match_size(rt, typeclass, size, out) {
    const names = MATCH[typeclass];
    if (!names) throw new MpiError(Err.ARG, `typeclass must be MPI_TYPECLASS_REAL, _INTEGER or _COMPLEX, got ${typeclass}`);
    const name = names.find((n) => rt.datatype(datatype(n)).size === size);
    if (!name) throw new MpiError(Err.ARG, `no predefined type of that class has ${size} bytes`);
    rt.mem.setI32(out, datatype(name));
    return 0;
  },

  MPI_Type_get_envelope(rt, h, ni, na, nd, combiner) {
    const t = old(rt, h);
    rt.mem.setI32(ni, t.ints.length);
    rt.mem.setI32(na, t.aints.length);
    rt.mem.setI32(nd, t.types.length);
    rt.mem.setI32(combiner, t.combiner);
    return 0;
  },

  MPI_Type_get_contents(rt, h, maxI, maxA, maxD, ints, addrs, types) {
    const t = old(rt, h);
    if (t.combiner === Combiner.NAMED) throw new MpiError(Err.TYPE, 'MPI_Type_get_contents of a predefined datatype');
    if (maxI < t.ints.length || maxA < t.aints.length || maxD < t.types.length) throw new MpiError(Err.ARG, 'the arrays are shorter than MPI_Type_get_envelope said');
    rt.mem.setI32s(ints, t.ints);
    rt.mem.setI32s(addrs, t.aints);
    // Derived types come back as new handles the caller may free; predefined
    // ones as themselves. A new handle is a copy that keeps the envelope (MPI
    // 3.1 §4.1.13): a program decoding a type recursively must see the
    // constructor the inner type was made with, not MPI_COMBINER_DUP.
    rt.mem.setI32s(types, t.types.map((th) => {
      const x = rt.datatypes.get(th);
      return x && !x.predefined ? rt.datatypes.add({ ...x, name: '' }) : th;
    }));
    return 0;
  },

  MPI_Type_get_name(rt, h, name, lenPtr) {
    rt.mem.setI32(lenPtr, rt.mem.writeCString(name, old(rt, h).name, MAX_OBJECT_NAME));
    return 0;
  },

  MPI_Type_set_name(rt, h, name) {
    const t = old(rt, h);
    if (t.predefined) throw new MpiError(Err.TYPE, 'predefined datatypes keep their names');
    t.name = rt.mem.cstring(name).slice(0, MAX_OBJECT_NAME - 1);
    return 0;
  },

  MPI_Get_address(rt, ptr, out) {
    rt.mem.setI32(out, ptr);
    return 0;
  },

  MPI_Pack(rt, inbuf, count, h, outbuf, outsize, posPtr, commH) {
    rt.comm(commH);
    const t = rt.datatype(h);
    const pos = rt.mem.i32(posPtr);
    const n = rt.count(count) * t.size;
    if (pos < 0 || pos + n > outsize) throw new MpiError(Err.TRUNCATE, `packing ${n} bytes at position ${pos} overflows the ${outsize}-byte buffer`);
    rt.packWithin(inbuf, count, t, (outbuf >>> 0) + pos);
    rt.mem.setI32(posPtr, pos + n);
    return 0;
  },

  MPI_Unpack(rt, inbuf, insize, posPtr, outbuf, count, h, commH) {
    rt.comm(commH);
    const t = rt.datatype(h);
    const pos = rt.mem.i32(posPtr);
    const n = rt.count(count) * t.size;
    if (pos < 0 || pos + n > insize) throw new MpiError(Err.TRUNCATE, `unpacking ${n} bytes at position ${pos} reads past the ${insize}-byte buffer`);
    rt.unpackWithin((inbuf >>> 0) + pos, count, t, outbuf >>> 0);
    rt.mem.setI32(posPtr, pos + n);
    return 0;
  },

  MPI_Pack_size(rt, count, h, commH, out) {
    rt.comm(commH);
    rt.mem.setI32(out, rt.count(count) * rt.datatype(h, false).size);
    return 0;
  },
};
