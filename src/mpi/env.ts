import { hostname } from 'node:os';
import { COMM_SELF, COMM_WORLD, Err, MAX_ERROR_STRING, MAX_LIBRARY_VERSION_STRING, MAX_PROCESSOR_NAME, THREAD_MULTIPLE } from './abi.js';
import { deleteAttrs } from './comms.js';
import { errorString, MpiError } from './errors.js';
import type { Impl } from './runtime.js';

export const LIBRARY_VERSION = 'fmi 0.1.0 (MPI 3.1 C ABI for wasm32 over fmi communicators)';

export const ENV_IMPLS: Record<string, Impl> = {
  MPI_Init(rt) {
    return rt.initialize().then(() => 0);
  },

  MPI_Init_thread(rt, _argc, _argv, required, providedPtr) {
    return rt.initialize().then(() => {
      // Programs built with fmi cc have one thread: every level is met trivially.
      rt.threadLevel = Math.max(0, Math.min(required, THREAD_MULTIPLE));
      rt.mem.setI32(providedPtr, rt.threadLevel);
      return 0;
    });
  },

  MPI_Initialized(rt, flag) {
    rt.mem.setI32(flag, rt.state === 'new' ? 0 : 1);
    return 0;
  },

  MPI_Finalized(rt, flag) {
    rt.mem.setI32(flag, rt.state === 'finalized' ? 1 : 0);
    return 0;
  },

  MPI_Finalize(rt) {
    const world = rt.comm(COMM_WORLD);
    // First of all, as if MPI_COMM_SELF were freed: its attributes' delete callbacks, the last set first.
    deleteAttrs(rt, COMM_SELF, true);
    // Every rank reaches here before any closes its connections.
    return world.comm.barrier({}).then(() => {
      rt.state = 'finalized';
      rt.packer.release();
      return 0;
    });
  },

  MPI_Abort(rt, commH, code) {
    rt.options.stderr(`fmi: ${rt.rankLabel}: MPI_Abort(${commH === COMM_WORLD ? 'MPI_COMM_WORLD' : `0x${(commH >>> 0).toString(16)}`}, ${code}) called: stopping the job`);
    rt.abort(code);
    return 0;
  },

  MPI_Query_thread(rt, ptr) {
    rt.mem.setI32(ptr, rt.threadLevel);
    return 0;
  },

  MPI_Is_thread_main(rt, flag) {
    rt.mem.setI32(flag, 1);
    return 0;
  },

  MPI_Get_processor_name(rt, name, lenPtr) {
    rt.mem.setI32(lenPtr, rt.mem.writeCString(name, hostname(), MAX_PROCESSOR_NAME));
    return 0;
  },

  MPI_Get_version(rt, v, sub) {
    rt.mem.setI32(v, 3);
    rt.mem.setI32(sub, 1);
    return 0;
  },

  MPI_Get_library_version(rt, buf, lenPtr) {
    rt.mem.setI32(lenPtr, rt.mem.writeCString(buf, LIBRARY_VERSION, MAX_LIBRARY_VERSION_STRING));
    return 0;
  },

  MPI_Error_class(rt, code, classPtr) {
    const cls = code >= 0 && code <= Err.LASTCODE ? code : rt.addedClasses.get(code) ?? (rt.addedErrors.has(code) ? code : undefined);
    if (cls === undefined) throw new MpiError(Err.ARG, `${code} is not an error code`);
    rt.mem.setI32(classPtr, cls);
    return 0;
  },

  MPI_Error_string(rt, code, buf, lenPtr) {
    const s = errorString(code, rt.addedErrors);
    if (s === undefined) throw new MpiError(Err.ARG, `${code} is not an error code`);
    rt.mem.setI32(lenPtr, rt.mem.writeCString(buf, s, MAX_ERROR_STRING));
    return 0;
  },

  MPI_Pcontrol() {
    return 0;
  },

  MPI_Alloc_mem(rt, size, _info, basePtr) {
    const p = rt.mem.host.malloc(Math.max(size, 1));
    if (p === 0) throw new MpiError(Err.NO_MEM, `cannot allocate ${size} bytes`);
    rt.mem.setI32(basePtr, p);
    return 0;
  },

  MPI_Free_mem(rt, ptr) {
    rt.mem.host.free(ptr);
    return 0;
  },
};
