// The collectives of thread ranks over their process's node arena, and the two-level ones of jobs of several such processes.
export { nodeCall, type NodeCall } from './two-level.js';
export { nodeBarrier, nodeBcast } from './node-bcast.js';
export { nodeReduce, nodeTakesReduce } from './node-reduce.js';
