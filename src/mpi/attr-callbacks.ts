import { DUP_FN } from './abi.js';
import { MpiError } from './errors.js';
import type { Keyval, MpiRuntime } from './runtime.js';

// The program's attribute callbacks (MPI 3.1 §6.7), the same for
// communicators and datatypes: `objH` is the handle of the object the
// attribute is on, `what` names the keyval's kind in error messages.

/**
 * Runs the copy callback of `key` for the value `val` on `objH` (MPI_Comm_dup,
 * MPI_Type_dup): the value for the new object, or undefined when it gets
 * none (no callback, or the callback's flag is 0). A callback's error code
 * is thrown with its class.
 */
export function copyAttrValue(rt: MpiRuntime, kv: Keyval, objH: number, key: number, val: number, what: string): number | undefined {
  if (kv.copy === 0) return undefined;
  if (kv.copy === DUP_FN) return val;
  const host = rt.mem.host;
  // int *attribute_val_out (as an address-sized int) and int *flag.
  const p = host.malloc(8);
  try {
    rt.mem.setI32(p, 0);
    rt.mem.setI32(p + 4, 0);
    const rc = host.call(kv.copy, objH, key, kv.extra, val, p, p + 4);
    if (rc !== 0) throw new MpiError(rc, `the copy callback of ${what} ${key} failed with ${rc}`);
    return rt.mem.i32(p + 4) ? rt.mem.i32(p) : undefined;
  } finally {
    host.free(p);
  }
}

/** Runs the delete callback of `key` for the value `val` on `objH`, if it has one; its error code is thrown with its class. */
export function deleteAttrValue(rt: MpiRuntime, kv: Keyval | undefined, objH: number, key: number, val: number, what: string): void {
  if (!kv || kv.del === 0) return;
  const rc = rt.mem.host.call(kv.del, objH, key, val, kv.extra);
  if (rc !== 0) throw new MpiError(rc, `the delete callback of ${what} ${key} failed with ${rc}`);
}
