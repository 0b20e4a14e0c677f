import { Err, GROUP_EMPTY, IDENT, MAX_INFO_KEY, PROC_NULL, SIMILAR, UNDEFINED, UNEQUAL, INFO_ENV } from './abi.js';
import { MpiError } from './errors.js';
import type { Impl, MpiRuntime } from './runtime.js';

// Groups are lists of world ranks; infos are string maps.

function newGroup(rt: MpiRuntime, ptr: number, g: number[]): number {
  rt.mem.setI32(ptr, g.length === 0 ? GROUP_EMPTY : rt.groups.add(g));
  return 0;
}

function checkRanks(g: number[], ranks: number[]): void {
  for (const r of ranks) if (!(r >= 0 && r < g.length)) throw new MpiError(Err.RANK, `rank ${r} is not in a group of size ${g.length}`);
}

function ranges(rt: MpiRuntime, g: number[], n: number, ptr: number): number[] {
  const out: number[] = [];
  const t = rt.mem.i32s(ptr, 3 * n);
  for (let i = 0; i < n; i++) {
    const [first, last, stride] = [t[3 * i]!, t[3 * i + 1]!, t[3 * i + 2]!];
    if (stride === 0) throw new MpiError(Err.ARG, 'a rank range with stride 0');
    for (let r = first; stride > 0 ? r <= last : r >= last; r += stride) out.push(r);
  }
  checkRanks(g, out);
  return out;
}

function info(rt: MpiRuntime, h: number): Map<string, string> {
  const m = rt.infos.get(h);
  if (!m) throw new MpiError(Err.INFO, h === 0 ? 'MPI_INFO_NULL is not an info object' : `invalid info handle 0x${(h >>> 0).toString(16)}`);
  return m;
}

export const GROUP_IMPLS: Record<string, Impl> = {
  MPI_Group_size(rt, h, sizePtr) {
    rt.mem.setI32(sizePtr, rt.group(h).length);
    return 0;
  },

  MPI_Group_rank(rt, h, rankPtr) {
    const i = rt.group(h).indexOf(rt.worldRank);
    rt.mem.setI32(rankPtr, i < 0 ? UNDEFINED : i);
    return 0;
  },

  MPI_Group_translate_ranks(rt, h1, n, ranks1, h2, ranks2) {
    const g1 = rt.group(h1);
    const g2 = rt.group(h2);
    const rs = rt.mem.i32s(ranks1, n);
    checkRanks(g1, rs.filter((r) => r !== PROC_NULL));
    rt.mem.setI32s(ranks2, rs.map((r) => {
      if (r === PROC_NULL) return PROC_NULL;
      const i = g2.indexOf(g1[r]!);
      return i < 0 ? UNDEFINED : i;
    }));
    return 0;
  },

  MPI_Group_compare(rt, h1, h2, result) {
    const a = rt.group(h1);
    const b = rt.group(h2);
    const sb = new Set(b);
    const r = a.length === b.length && a.every((x, i) => x === b[i]) ? IDENT : a.length === b.length && a.every((x) => sb.has(x)) ? SIMILAR : UNEQUAL;
    rt.mem.setI32(result, r);
    return 0;
  },

  MPI_Group_union(rt, h1, h2, out) {
    const a = rt.group(h1);
    const sa = new Set(a);
    return newGroup(rt, out, [...a, ...rt.group(h2).filter((x) => !sa.has(x))]);
  },

  MPI_Group_intersection(rt, h1, h2, out) {
    const sb = new Set(rt.group(h2));
    return newGroup(rt, out, rt.group(h1).filter((x) => sb.has(x)));
  },

  MPI_Group_difference(rt, h1, h2, out) {
    const sb = new Set(rt.group(h2));
    return newGroup(rt, out, rt.group(h1).filter((x) => !sb.has(x)));
  },

  MPI_Group_incl(rt, h, n, ranks, out) {
    const g = rt.group(h);
    const rs = rt.mem.i32s(ranks, n);
    checkRanks(g, rs);
    return newGroup(rt, out, rs.map((r) => g[r]!));
  },

  MPI_Group_excl(rt, h, n, ranks, out) {
    const g = rt.group(h);
    const rs = rt.mem.i32s(ranks, n);
    checkRanks(g, rs);
    const drop = new Set(rs);
    return newGroup(rt, out, g.filter((_, i) => !drop.has(i)));
  },

  MPI_Group_range_incl(rt, h, n, rangesPtr, out) {
    const g = rt.group(h);
    return newGroup(rt, out, ranges(rt, g, n, rangesPtr).map((r) => g[r]!));
  },

  MPI_Group_range_excl(rt, h, n, rangesPtr, out) {
    const g = rt.group(h);
    const drop = new Set(ranges(rt, g, n, rangesPtr));
    return newGroup(rt, out, g.filter((_, i) => !drop.has(i)));
  },

  MPI_Group_free(rt, ptr) {
    const h = rt.mem.i32(ptr);
    rt.group(h);
    if (h !== GROUP_EMPTY) rt.groups.remove(h);
    rt.mem.setI32(ptr, 0);
    return 0;
  },

  MPI_Info_create(rt, ptr) {
    rt.mem.setI32(ptr, rt.infos.add(new Map()));
    return 0;
  },

  MPI_Info_free(rt, ptr) {
    const h = rt.mem.i32(ptr);
    info(rt, h);
    if (h !== INFO_ENV) rt.infos.remove(h);
    rt.mem.setI32(ptr, 0);
    return 0;
  },

  MPI_Info_dup(rt, h, ptr) {
    rt.mem.setI32(ptr, rt.infos.add(new Map(info(rt, h))));
    return 0;
  },

  MPI_Info_set(rt, h, key, value) {
    const k = rt.mem.cstring(key);
    if (k.length === 0 || k.length > MAX_INFO_KEY) throw new MpiError(Err.INFO_KEY, `info key of ${k.length} characters`);
    info(rt, h).set(k, rt.mem.cstring(value));
    return 0;
  },

  MPI_Info_get(rt, h, key, valuelen, value, flag) {
    const v = info(rt, h).get(rt.mem.cstring(key));
    rt.mem.setI32(flag, v === undefined ? 0 : 1);
    if (v !== undefined) rt.mem.writeCString(value, v, valuelen + 1);
    return 0;
  },

  MPI_Info_get_valuelen(rt, h, key, lenPtr, flag) {
    const v = info(rt, h).get(rt.mem.cstring(key));
    rt.mem.setI32(flag, v === undefined ? 0 : 1);
    if (v !== undefined) rt.mem.setI32(lenPtr, new TextEncoder().encode(v).length);
    return 0;
  },

  MPI_Info_delete(rt, h, key) {
    if (!info(rt, h).delete(rt.mem.cstring(key))) throw new MpiError(Err.INFO_NOKEY, 'no such info key');
    return 0;
  },

  MPI_Info_get_nkeys(rt, h, nPtr) {
    rt.mem.setI32(nPtr, info(rt, h).size);
    return 0;
  },

  MPI_Info_get_nthkey(rt, h, n, key) {
    const keys = [...info(rt, h).keys()];
    if (!(n >= 0 && n < keys.length)) throw new MpiError(Err.ARG, `info has ${keys.length} keys, asked for key ${n}`);
    rt.mem.writeCString(key, keys[n]!, MAX_INFO_KEY + 1);
    return 0;
  },
};
