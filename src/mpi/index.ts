// The MPI C ABI: run C/C++ MPI programs built with `fmi cc` on fmi.
export { runProgram, readProgramInfo, PROGRAM_MARKER, type RunProgramOptions, type ProgramInfo } from './program.js';
export { runInProcess, type RunInProcessOptions } from './world.js';
export { MpiRuntime, type RuntimeOptions } from './runtime.js';

/** The script `fmi run` starts for each rank of a compiled program. */
export const RANK_MAIN = new URL('./rank-main.js', import.meta.url);
