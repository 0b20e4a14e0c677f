// What a Communicator that is an intercommunicator runs for each collective
// method (MPI 3.1 §5.2.2): the same signatures, the intercommunicator first.
// Rooted calls take ROOT / PROC_NULL in the root's group, the root's rank in
// the remote group in the other.
export {
  interBcast as bcast, interReduce as reduce, interGather as gather, interScatter as scatter,
  interGatherv as gatherv, interScatterv as scatterv,
} from './inter-rooted.js';
export {
  interAllreduce as allreduce, interAllgather as allgather, interAllgatherv as allgatherv,
  interAlltoall as alltoall, interAlltoallv as alltoallv, interReduceScatter as reduceScatter,
} from './inter-all.js';
export { interSplit as split } from './inter-split.js';
export { freeInterState as free } from './inter-collectives.js';
