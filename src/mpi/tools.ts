import { Err, THREAD_MULTIPLE } from './abi.js';
import type { Impl, MpiRuntime } from './runtime.js';

/**
 * The MPI tool information interface (MPI 3.1 §14.3) of a library with no
 * tool variables, which the standard allows (§14.3: "an implementation is
 * not required to export any control or performance variables"): there are
 * 0 control variables, 0 performance variables and 0 categories, so every
 * index a tool can pass is invalid (MPI_T_ERR_INVALID_INDEX), every name
 * unknown (MPI_T_ERR_INVALID_NAME) and no handle of a variable or an
 * enumeration exists (MPI_T_ERR_INVALID_HANDLE). Sessions can be made and
 * freed: one holds no handles, so MPI_T_PVAR_ALL_HANDLES acts on none.
 *
 * MPI_T calls return their code and never call an error handler (§14.3.10);
 * all but MPI_T_init_thread need the interface initialized first
 * (MPI_T_ERR_NOT_INITIALIZED), and it may be initialized and finalized any
 * number of times, before MPI_Init or after MPI_Finalize (§14.3.4).
 */

/** MPI_T_PVAR_ALL_HANDLES in mpi.h. */
const ALL_HANDLES = -1;
/** Session handles: a kind of their own in the high bits (mpi.h's scheme), null is 0. */
const SESSION_BASE = 0x70000000;

interface ToolState {
  inits: number;
  nextSession: number;
  sessions: Set<number>;
}

const states = new WeakMap<MpiRuntime, ToolState>();

function state(rt: MpiRuntime): ToolState {
  let s = states.get(rt);
  if (!s) states.set(rt, (s = { inits: 0, nextSession: 1, sessions: new Set() }));
  return s;
}

/** An MPI_T call that needs the interface initialized: `body` runs only then. */
function needsInit(body: (rt: MpiRuntime, ...args: number[]) => number): Impl {
  return (rt, ...args) => (state(rt).inits > 0 ? body(rt, ...args) : Err.T_NOT_INITIALIZED);
}

const zero = needsInit((rt, ptr) => {
  rt.mem.setI32(ptr!, 0);
  return 0;
});
const invalidIndex = needsInit(() => Err.T_INVALID_INDEX);
const invalidName = needsInit(() => Err.T_INVALID_NAME);
const invalidHandle = needsInit(() => Err.T_INVALID_HANDLE);

/** A performance-variable call on (session, handle): only MPI_T_PVAR_ALL_HANDLES names something (nothing). */
function onHandles(allHandles: number): Impl {
  return needsInit((rt, session, handle) => {
    if (!state(rt).sessions.has(session!)) return Err.T_INVALID_SESSION;
    return handle === ALL_HANDLES ? allHandles : Err.T_INVALID_HANDLE;
  });
}

export const TOOL_IMPLS: Record<string, Impl> = {
  MPI_T_init_thread(rt, required, providedPtr) {
    state(rt).inits++;
    rt.mem.setI32(providedPtr!, Math.max(0, Math.min(required!, THREAD_MULTIPLE)));
    return 0;
  },
  MPI_T_finalize(rt) {
    const s = state(rt);
    if (s.inits === 0) return Err.T_NOT_INITIALIZED;
    if (--s.inits === 0) s.sessions.clear();
    return 0;
  },

  MPI_T_cvar_get_num: zero,
  MPI_T_pvar_get_num: zero,
  MPI_T_category_get_num: zero,
  // Nothing has changed since there is nothing: the stamp stays 0.
  MPI_T_category_changed: zero,

  MPI_T_cvar_get_info: invalidIndex,
  MPI_T_cvar_handle_alloc: invalidIndex,
  MPI_T_pvar_get_info: invalidIndex,
  MPI_T_category_get_info: invalidIndex,
  MPI_T_category_get_cvars: invalidIndex,
  MPI_T_category_get_pvars: invalidIndex,
  MPI_T_category_get_categories: invalidIndex,
  MPI_T_cvar_get_index: invalidName,
  MPI_T_pvar_get_index: invalidName,
  MPI_T_category_get_index: invalidName,
  MPI_T_enum_get_info: invalidHandle,
  MPI_T_enum_get_item: invalidHandle,
  MPI_T_cvar_handle_free: invalidHandle,
  MPI_T_cvar_read: invalidHandle,
  MPI_T_cvar_write: invalidHandle,

  MPI_T_pvar_session_create: needsInit((rt, ptr) => {
    const s = state(rt);
    const h = SESSION_BASE + s.nextSession++;
    s.sessions.add(h);
    rt.mem.setI32(ptr!, h);
    return 0;
  }),
  MPI_T_pvar_session_free: needsInit((rt, ptr) => {
    if (!state(rt).sessions.delete(rt.mem.i32(ptr!))) return Err.T_INVALID_SESSION;
    rt.mem.setI32(ptr!, 0);
    return 0;
  }),
  MPI_T_pvar_handle_alloc: needsInit((rt, session) => (state(rt).sessions.has(session!) ? Err.T_INVALID_INDEX : Err.T_INVALID_SESSION)),
  MPI_T_pvar_handle_free: needsInit((rt, session) => (state(rt).sessions.has(session!) ? Err.T_INVALID_HANDLE : Err.T_INVALID_SESSION)),
  // Starting, stopping or resetting all handles of a session with none does nothing, successfully.
  MPI_T_pvar_start: onHandles(0),
  MPI_T_pvar_stop: onHandles(0),
  MPI_T_pvar_reset: onHandles(0),
  // Reading and writing take one handle, never MPI_T_PVAR_ALL_HANDLES (§14.3.7).
  MPI_T_pvar_read: onHandles(Err.T_INVALID_HANDLE),
  MPI_T_pvar_write: onHandles(Err.T_INVALID_HANDLE),
  MPI_T_pvar_readreset: onHandles(Err.T_INVALID_HANDLE),
};
