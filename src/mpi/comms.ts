import type { Communicator } from '../comm/communicator.js';
import {
  Attr, COMM_SELF, COMM_WORLD, CONGRUENT, COMM_TYPE_SHARED, Err, IDENT, KEYVAL_INVALID,
  MAX_OBJECT_NAME, PROC_NULL, SIMILAR, UNDEFINED, UNEQUAL, ANY_SOURCE, ANY_TAG,
} from './abi.js';
import { MpiError } from './errors.js';
import { copyAttrValue, deleteAttrValue } from './attr-callbacks.js';
import { groupsOf, interSplit } from './inter/split.js';
import { freeInter } from './inter/state.js';
import { startRequest } from './requests.js';
import type { CommEntry, Impl, MpiRuntime } from './runtime.js';

/** The world rank of each member of a new communicator, learned from the members themselves. */
async function membersOf(rt: MpiRuntime, comm: Communicator): Promise<number[]> {
  const all = (await comm.allgather(Int32Array.of(rt.worldRank))) as Int32Array;
  return Array.from(all);
}

/** Registers a new communicator that inherits `from`'s error handler; returns its handle. */
export function addComm(rt: MpiRuntime, from: CommEntry, comm: Communicator, group: number[], topo?: CommEntry['topo'], remote?: number[]): number {
  return rt.comms.add({ comm, group, errhandler: from.errhandler, name: '', attrs: new Map(), topo, remote });
}

/** Registers a new intercommunicator (or MPI_COMM_NULL for null) at newPtr. */
function setNew(rt: MpiRuntime, newPtr: number, from: CommEntry, comm: Communicator | null): number {
  if (!comm) return rt.mem.setI32(newPtr, 0), 0;
  const { group, remote } = groupsOf(comm);
  rt.mem.setI32(newPtr, addComm(rt, from, comm, group, undefined, remote));
  return 0;
}

/** Copies `from`'s attributes onto a duplicate, through each keyval's copy callback. */
function copyAttrs(rt: MpiRuntime, fromH: number, from: CommEntry, to: CommEntry): void {
  for (const [key, val] of from.attrs) {
    const kv = rt.keyvals.get(key);
    const copy = kv && copyAttrValue(rt, kv, fromH, key, val, 'keyval');
    if (copy !== undefined) to.attrs.set(key, copy);
  }
}

function deleteAttr(rt: MpiRuntime, commH: number, c: CommEntry, key: number): void {
  if (!c.attrs.has(key)) return;
  const val = c.attrs.get(key)!;
  c.attrs.delete(key);
  const kv = rt.keyvals.get(key);
  try {
    deleteAttrValue(rt, kv, commH, key, val, 'keyval');
  } finally {
    if (kv?.freed) dropIfUnused(rt, key);
  }
}

/** A keyval the program freed goes once no communicator has an attribute of it (MPI 3.1 §6.7.2). */
function dropIfUnused(rt: MpiRuntime, key: number): void {
  for (const [, c] of rt.comms.entries()) if (c.attrs.has(key)) return;
  rt.keyvals.delete(key);
}

/**
 * Deletes every attribute of communicator h through its keyval's delete
 * callback; `lastFirst`: the last set first (MPI_COMM_SELF at MPI_Finalize,
 * MPI 3.1 §8.7.1). A callback's error stops it and comes back.
 */
export function deleteAttrs(rt: MpiRuntime, h: number, lastFirst = false): void {
  const c = rt.comms.get(h);
  if (!c) return;
  const keys = [...c.attrs.keys()];
  if (lastFirst) keys.reverse();
  for (const key of keys) deleteAttr(rt, h, c, key);
}

async function dup(rt: MpiRuntime, commH: number): Promise<number> {
  const c = rt.comm(commH);
  const comm = await c.comm.dup({});
  const h = addComm(rt, c, comm, c.group, c.topo, c.remote);
  try {
    copyAttrs(rt, commH, c, rt.comms.get(h)!);
  } catch (err) {
    // A copy callback failed: the call fails with its error, and no communicator is made.
    const made = rt.comms.get(h)!;
    rt.comms.remove(h);
    for (const key of [...made.attrs.keys()]) deleteAttr(rt, h, made, key);
    await comm.free();
    throw err;
  }
  return h;
}

/** How two groups compare (IDENT, SIMILAR or UNEQUAL). */
export function compare(a: number[], b: number[]): number {
  if (a.length === b.length && a.every((x, i) => x === b[i])) return IDENT;
  const sb = new Set(b);
  return a.length === b.length && a.every((x) => sb.has(x)) ? SIMILAR : UNEQUAL;
}

const setAttr: Impl = (rt, commH, key, val) => {
  const c = rt.comm(commH);
  if (!rt.keyvals.has(key)) throw new MpiError(Err.KEYVAL, `keyval ${key} was not created with MPI_Comm_create_keyval`);
  deleteAttr(rt, commH, c, key);
  c.attrs.set(key, val);
  return 0;
};

const getAttr: Impl = (rt, commH, key, valPtr, flag) => {
  const c = rt.comm(commH);
  const predefined = [Attr.TAG_UB, Attr.HOST, Attr.IO, Attr.WTIME_IS_GLOBAL, Attr.UNIVERSE_SIZE, Attr.LASTUSEDCODE] as number[];
  const k = predefined.indexOf(key);
  if (k >= 0) {
    const values = [0x7fffffff, PROC_NULL, ANY_SOURCE, 0, rt.world!.size, rt.nextErrorCode - 1];
    rt.mem.setI32(rt.attrStore + 4 * k, values[k]!);
    rt.mem.setI32(valPtr, rt.attrStore + 4 * k);
    rt.mem.setI32(flag, 1);
    return 0;
  }
  if (key === Attr.APPNUM) {
    rt.mem.setI32(flag, 0);
    return 0;
  }
  if (!rt.keyvals.has(key)) throw new MpiError(Err.KEYVAL, `keyval ${key} was not created with MPI_Comm_create_keyval`);
  const has = c.attrs.has(key);
  if (has) rt.mem.setI32(valPtr, c.attrs.get(key)!);
  rt.mem.setI32(flag, has ? 1 : 0);
  return 0;
};

const delAttr: Impl = (rt, commH, key) => {
  const c = rt.comm(commH);
  if (!rt.keyvals.has(key)) throw new MpiError(Err.KEYVAL, `keyval ${key} was not created with MPI_Comm_create_keyval`);
  deleteAttr(rt, commH, c, key);
  return 0;
};

const createKeyval: Impl = (rt, copy, del, keyvalPtr, extra) => {
  const key = rt.nextKeyval++;
  rt.keyvals.set(key, { copy, del, extra });
  rt.mem.setI32(keyvalPtr, key);
  return 0;
};

const freeKeyval: Impl = (rt, keyvalPtr) => {
  const key = rt.mem.i32(keyvalPtr);
  const kv = rt.keyvals.get(key);
  if (!kv || kv.freed) throw new MpiError(Err.KEYVAL, `keyval ${key} is not a keyval`);
  // Attributes of it that are still set keep working (and are deleted through it) until the last goes.
  kv.freed = true;
  dropIfUnused(rt, key);
  rt.mem.setI32(keyvalPtr, KEYVAL_INVALID);
  return 0;
};

export const COMM_IMPLS: Record<string, Impl> = {
  MPI_Comm_size(rt, commH, sizePtr) {
    rt.mem.setI32(sizePtr, rt.comm(commH).comm.size);
    return 0;
  },

  MPI_Comm_rank(rt, commH, rankPtr) {
    rt.mem.setI32(rankPtr, rt.comm(commH).comm.rank);
    return 0;
  },

  MPI_Comm_compare(rt, a, b, result) {
    const ca = rt.comm(a);
    const cb = rt.comm(b);
    // Intercommunicators compare both groups; an intercommunicator and an intracommunicator are UNEQUAL.
    const r = a === b ? IDENT : !ca.remote !== !cb.remote ? UNEQUAL : Math.max(compare(ca.group, cb.group), ca.remote ? compare(ca.remote, cb.remote!) : IDENT);
    rt.mem.setI32(result, r === IDENT && a !== b ? CONGRUENT : r);
    return 0;
  },

  MPI_Comm_dup: (rt, commH, newPtr) => dup(rt, commH).then((h) => (rt.mem.setI32(newPtr, h), 0)),
  MPI_Comm_dup_with_info: (rt, commH, _info, newPtr) => dup(rt, commH).then((h) => (rt.mem.setI32(newPtr, h), 0)),

  MPI_Comm_idup(rt, commH, newPtr, reqPtr) {
    rt.comm(commH);
    const p = dup(rt, commH);
    p.catch(() => {});
    return startRequest(rt, reqPtr, commH, async () => {
      const h = await p;
      return { source: ANY_SOURCE, tag: ANY_TAG, bytes: 0, finish: () => rt.mem.setI32(newPtr, h) };
    });
  },

  MPI_Comm_create(rt, commH, groupH, newPtr) {
    const c = rt.comm(commH);
    const g = rt.group(groupH);
    // On an intercommunicator the group is a subset of the local group (MPI 3.1 §6.4.2).
    const inComm = new Set(c.group);
    if (!g.every((w) => inComm.has(w))) throw new MpiError(Err.GROUP, `the group is not a subset of the communicator's ${c.remote ? 'local ' : ''}group`);
    const at = g.indexOf(rt.worldRank);
    if (c.remote) return interSplit(c, at >= 0 ? 0 : UNDEFINED, at).then((comm) => setNew(rt, newPtr, c, comm));
    // Ranks may pass different, disjoint groups (MPI 2.2 on): each gets its own group's
    // communicator. A group's first member names it; disjoint groups have different ones.
    return c.comm.split(at >= 0 ? g[0]! : UNDEFINED, Math.max(at, 0)).then((comm) => {
      rt.mem.setI32(newPtr, comm ? addComm(rt, c, comm, [...g]) : 0);
      return 0;
    });
  },

  MPI_Comm_split(rt, commH, color, key, newPtr) {
    const c = rt.comm(commH);
    if (color !== UNDEFINED && color < 0) throw new MpiError(Err.ARG, `color must be non-negative or MPI_UNDEFINED, got ${color}`);
    if (c.remote) return interSplit(c, color, key).then((comm) => setNew(rt, newPtr, c, comm));
    return c.comm.split(color, key).then(async (comm) => {
      rt.mem.setI32(newPtr, comm ? addComm(rt, c, comm, await membersOf(rt, comm)) : 0);
      return 0;
    });
  },

  MPI_Comm_split_type(rt, commH, type, key, _info, newPtr) {
    const c = rt.comm(commH);
    if (type !== UNDEFINED && type !== COMM_TYPE_SHARED) throw new MpiError(Err.ARG, `unknown split type ${type}`);
    // Each rank of an fmi job runs in its own function: no two share memory.
    const color = type === UNDEFINED ? UNDEFINED : c.comm.rank;
    return c.comm.split(color, key).then((comm) => {
      rt.mem.setI32(newPtr, comm ? addComm(rt, c, comm, [rt.worldRank]) : 0);
      return 0;
    });
  },

  MPI_Comm_free(rt, commPtr) {
    const h = rt.mem.i32(commPtr);
    const c = rt.comm(h);
    if (h === COMM_WORLD || h === COMM_SELF) throw new MpiError(Err.COMM, 'MPI_COMM_WORLD and MPI_COMM_SELF cannot be freed');
    deleteAttrs(rt, h);
    // Requests pending on it complete normally (MPI 3.1 §6.4.3) and look it
    // up by its handle: the number stays taken until they are done.
    rt.retire(() => {
      rt.comms.remove(h);
      dropErrhandlerIfUnused(rt, c.errhandler);
    });
    rt.mem.setI32(commPtr, 0);
    // With it goes the private duplicate of its neighborhood collectives, if any was made.
    const neighbors = c.neighborComm?.then((n) => n.free(), () => {});
    return Promise.all([c.comm.free(), neighbors, freeInter(c)]).then(() => 0);
  },

  MPI_Comm_get_name(rt, commH, name, lenPtr) {
    const c = rt.comm(commH);
    rt.mem.setI32(lenPtr, rt.mem.writeCString(name, c.name, MAX_OBJECT_NAME));
    return 0;
  },

  MPI_Comm_set_name(rt, commH, name) {
    rt.comm(commH).name = rt.mem.cstring(name).slice(0, MAX_OBJECT_NAME - 1);
    return 0;
  },

  MPI_Comm_set_info(rt, commH, infoH) {
    const c = rt.comm(commH);
    const info = rt.infos.get(infoH);
    c.info = new Map(info ?? []);
    return 0;
  },

  MPI_Comm_get_info(rt, commH, infoPtr) {
    const c = rt.comm(commH);
    rt.mem.setI32(infoPtr, rt.infos.add(new Map(c.info ?? [])));
    return 0;
  },

  MPI_Comm_group(rt, commH, groupPtr) {
    rt.mem.setI32(groupPtr, rt.groups.add([...rt.comm(commH).group]));
    return 0;
  },

  MPI_Comm_create_keyval: createKeyval,
  MPI_Keyval_create: createKeyval,
  MPI_Comm_free_keyval: freeKeyval,
  MPI_Keyval_free: freeKeyval,
  MPI_Comm_set_attr: setAttr,
  MPI_Attr_put: setAttr,
  MPI_Comm_get_attr: getAttr,
  MPI_Attr_get: getAttr,
  MPI_Comm_delete_attr: delAttr,
  MPI_Attr_delete: delAttr,

  MPI_Comm_create_errhandler(rt, fn, ehPtr) {
    rt.mem.setI32(ehPtr, rt.errhandlers.add({ kind: 'user', fn }));
    return 0;
  },

  MPI_Comm_set_errhandler(rt, commH, eh) {
    const c = rt.comm(commH);
    if (!rt.errhandlers.get(eh)) throw new MpiError(Err.ARG, `invalid error handler 0x${(eh >>> 0).toString(16)}`);
    const old = c.errhandler;
    c.errhandler = eh;
    dropErrhandlerIfUnused(rt, old);
    return 0;
  },

  MPI_Comm_get_errhandler(rt, commH, ehPtr) {
    rt.mem.setI32(ehPtr, rt.comm(commH).errhandler);
    return 0;
  },

  MPI_Comm_call_errhandler(rt, commH, code) {
    rt.comm(commH);
    rt.fail('MPI_Comm_call_errhandler', new MpiError(code, `the program raised error ${code}`), commH);
    return 0;
  },

  MPI_Errhandler_free(rt, ehPtr) {
    const h = rt.mem.i32(ehPtr);
    const eh = rt.errhandlers.get(h);
    if (!eh) throw new MpiError(Err.ARG, 'not an error handler');
    // MPI 3.1 §8.3.4: freeing only marks the handler; communicators that use it keep it.
    if (eh.kind === 'user') eh.freed = true;
    dropErrhandlerIfUnused(rt, h);
    rt.mem.setI32(ehPtr, 0);
    return 0;
  },

  MPI_Add_error_class(rt, classPtr) {
    const c = rt.nextErrorCode++;
    rt.addedErrors.set(c, `error class ${c}`);
    rt.mem.setI32(classPtr, c);
    return 0;
  },

  MPI_Add_error_code(rt, cls, codePtr) {
    const c = rt.nextErrorCode++;
    rt.addedErrors.set(c, rt.addedErrors.get(cls) ?? `error code ${c}`);
    rt.addedClasses.set(c, cls);
    rt.mem.setI32(codePtr, c);
    return 0;
  },

  MPI_Add_error_string(rt, code, str) {
    if (code <= Err.LASTCODE) throw new MpiError(Err.ARG, 'only codes added with MPI_Add_error_class/code can get a string');
    rt.addedErrors.set(code, rt.mem.cstring(str));
    return 0;
  },
};

/** Takes a handler the program has freed out of the table once no communicator uses it. */
function dropErrhandlerIfUnused(rt: MpiRuntime, h: number): void {
  const eh = rt.errhandlers.get(h);
  if (eh?.kind !== 'user' || !eh.freed) return;
  for (const [, c] of rt.comms.entries()) if (c.errhandler === h) return;
  rt.errhandlers.remove(h);
}
