import { Err, KEYVAL_INVALID } from './abi.js';
import { MpiError } from './errors.js';
import { copyAttrValue, deleteAttrValue } from './attr-callbacks.js';
import type { Impl, MpiRuntime } from './runtime.js';

// Attributes on datatypes (MPI 3.1 §6.7.4): as on communicators, but keyed
// by the datatype handle (predefined datatypes are shared by every rank of a
// process, so nothing is stored on the Datatype itself). Copied by
// MPI_Type_dup through each keyval's copy callback, deleted by MPI_Type_free
// through its delete callback.

function attrsOf(rt: MpiRuntime, h: number, make: boolean): Map<number, number> | undefined {
  rt.datatype(h, false);
  let m = rt.typeAttrs.get(h);
  if (!m && make) rt.typeAttrs.set(h, (m = new Map()));
  return m;
}

function typeKeyval(rt: MpiRuntime, key: number) {
  const kv = rt.keyvals.get(key);
  if (!kv || kv.kind !== 'type') throw new MpiError(Err.KEYVAL, `keyval ${key} was not created with MPI_Type_create_keyval`);
  return kv;
}

/** A freed keyval goes once no datatype has an attribute of it. */
function dropIfUnused(rt: MpiRuntime, key: number): void {
  for (const [, m] of rt.typeAttrs) if (m.has(key)) return;
  rt.keyvals.delete(key);
}

function deleteAttr(rt: MpiRuntime, h: number, m: Map<number, number>, key: number): void {
  if (!m.has(key)) return;
  const val = m.get(key)!;
  m.delete(key);
  if (m.size === 0) rt.typeAttrs.delete(h);
  const kv = rt.keyvals.get(key);
  try {
    deleteAttrValue(rt, kv, h, key, val, 'datatype keyval');
  } finally {
    if (kv?.freed) dropIfUnused(rt, key);
  }
}

/** MPI_Type_free: every attribute of h through its delete callback; a callback's error comes back. */
export function deleteTypeAttrs(rt: MpiRuntime, h: number): void {
  const m = rt.typeAttrs.get(h);
  if (!m) return;
  for (const key of [...m.keys()]) deleteAttr(rt, h, m, key);
}

/** MPI_Type_dup: copies fromH's attributes onto toH through each keyval's copy callback. */
export function copyTypeAttrs(rt: MpiRuntime, fromH: number, toH: number): void {
  const from = rt.typeAttrs.get(fromH);
  if (!from) return;
  for (const [key, val] of from) {
    const kv = rt.keyvals.get(key);
    const copy = kv && copyAttrValue(rt, kv, fromH, key, val, 'datatype keyval');
    if (copy !== undefined) attrsOf(rt, toH, true)!.set(key, copy);
  }
}

export const TYPE_ATTR_IMPLS: Record<string, Impl> = {
  MPI_Type_create_keyval(rt, copy, del, keyvalPtr, extra) {
    const key = rt.nextKeyval++;
    rt.keyvals.set(key, { copy, del, extra, kind: 'type' });
    rt.mem.setI32(keyvalPtr, key);
    return 0;
  },

  MPI_Type_free_keyval(rt, keyvalPtr) {
    const key = rt.mem.i32(keyvalPtr);
    const kv = typeKeyval(rt, key);
    if (kv.freed) throw new MpiError(Err.KEYVAL, `keyval ${key} was already freed`);
    kv.freed = true;
    dropIfUnused(rt, key);
    rt.mem.setI32(keyvalPtr, KEYVAL_INVALID);
    return 0;
  },

  MPI_Type_set_attr(rt, h, key, val) {
    typeKeyval(rt, key);
    const m = attrsOf(rt, h, true)!;
    deleteAttr(rt, h, m, key);
    attrsOf(rt, h, true)!.set(key, val);
    return 0;
  },

  MPI_Type_get_attr(rt, h, key, valPtr, flag) {
    typeKeyval(rt, key);
    const m = attrsOf(rt, h, false);
    const has = m?.has(key) ?? false;
    if (has) rt.mem.setI32(valPtr, m!.get(key)!);
    rt.mem.setI32(flag, has ? 1 : 0);
    return 0;
  },

  MPI_Type_delete_attr(rt, h, key) {
    typeKeyval(rt, key);
    const m = attrsOf(rt, h, false);
    if (m) deleteAttr(rt, h, m, key);
    return 0;
  },
};
