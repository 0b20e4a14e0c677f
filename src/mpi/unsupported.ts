import { Err } from './abi.js';
import { MpiError } from './errors.js';
import type { MpiRuntime } from './runtime.js';

/**
 * The error of a function mpi.h declares but fmi does not implement (the
 * runtime has no entry for it: bindings/library_fmi.js's FMI_UNSUPPORTED).
 * Its code is one of class MPI_ERR_UNSUPPORTED_OPERATION made for that
 * function, as MPI_Add_error_code would (MPI 3.1 §8.4: an implementation
 * may return codes finer than classes), so that a program running with
 * MPI_ERRORS_RETURN learns which call failed from MPI_Error_string too,
 * not only from the fatal handler's message.
 */
export function unsupportedError(rt: MpiRuntime, name: string): MpiError {
  const text = `MPI_ERR_UNSUPPORTED_OPERATION: ${name} is not supported by fmi (yet): see docs/mpi.md`;
  let codes = perRuntime.get(rt);
  if (!codes) perRuntime.set(rt, (codes = new Map()));
  let code = codes.get(name);
  if (code === undefined) {
    code = rt.nextErrorCode++;
    codes.set(name, code);
    rt.addedClasses.set(code, Err.UNSUPPORTED_OPERATION);
    rt.addedErrors.set(code, text);
  }
  return new MpiError(code, text);
}

const perRuntime = new WeakMap<MpiRuntime, Map<string, number>>();
