import type { MpiRuntime } from './runtime.js';

// The shape of an MPI collective's implementation, shared by coll.ts, its
// intercommunicator forms (inter/) and neighbor.ts, so those import it from
// here rather than from coll.ts, which imports them.

/** Writes a collective's result into the program; runs when the program is (or is about to be) resumed. */
export type Finish = () => void;
/**
 * A collective: reads its input and checks its arguments before its first
 * await (so while the program's memory is as the call left it), then runs
 * the fmi collective. `copy`: the input must not be a view of the program's
 * memory (non-blocking calls: the program runs on and may grow it).
 */
export type Start = (rt: MpiRuntime, a: number[], copy: boolean) => Promise<Finish>;
