import type { Communicator } from '../comm/communicator.js';
import { Err, UNDEFINED, UNWEIGHTED, WEIGHTS_EMPTY } from './abi.js';
import { withTopology } from './topo.js';
import { MpiError } from './errors.js';
import { addComm } from './comms.js';
import type { CommEntry, Impl, MpiRuntime, Topology } from './runtime.js';

// Graph and distributed-graph topologies. As for Cartesian ones, `reorder`
// is accepted and ignored: ranks keep their order.

type Graph = Extract<Topology, { kind: 'graph' }>;
type Dist = Extract<Topology, { kind: 'dist' }>;

function graph(rt: MpiRuntime, h: number): Graph {
  const t = rt.comm(h).topo;
  if (t?.kind !== 'graph') throw new MpiError(Err.TOPOLOGY, 'the communicator has no graph topology (use MPI_Graph_create)');
  return t;
}

function dist(rt: MpiRuntime, h: number): Dist {
  const t = rt.comm(h).topo;
  if (t?.kind !== 'dist') throw new MpiError(Err.TOPOLOGY, 'the communicator has no distributed graph topology (use MPI_Dist_graph_create(_adjacent))');
  return t;
}

/** The neighbors of `rank` in a graph topology: its slice of `edges`. */
export function graphNeighbors(t: Graph, rank: number): number[] {
  return t.edges.slice(rank === 0 ? 0 : t.index[rank - 1]!, t.index[rank]!);
}

function checkRanks(list: number[], size: number, what: string): void {
  const bad = list.find((r) => !(Number.isInteger(r) && r >= 0 && r < size));
  if (bad !== undefined) throw new MpiError(Err.ARG, `${what} ${bad} is not a rank of a communicator of ${size}`);
}

/** Weights at ptr (n of them), or undefined for MPI_UNWEIGHTED; MPI_WEIGHTS_EMPTY only where n is 0. */
function weights(rt: MpiRuntime, ptr: number, n: number, what: string): number[] | undefined {
  if (ptr === UNWEIGHTED) return undefined;
  if (ptr === WEIGHTS_EMPTY || n === 0) {
    if (n > 0) throw new MpiError(Err.ARG, `${what}: MPI_WEIGHTS_EMPTY with ${n} edges`);
    return [];
  }
  const w = rt.mem.i32s(ptr, n);
  if (w.some((x) => x < 0)) throw new MpiError(Err.ARG, `${what} must be non-negative`);
  return w;
}

/** Registers a distributed graph over a duplicate of c (every rank of c joins). */
async function distComm(rt: MpiRuntime, c: CommEntry, topo: Dist): Promise<number> {
  const comm: Communicator = await c.comm.dup({});
  return addComm(rt, c, comm, c.group, topo);
}

function writeWeights(rt: MpiRuntime, ptr: number, w: number[] | undefined, max: number): void {
  if (w !== undefined && ptr !== UNWEIGHTED && ptr !== WEIGHTS_EMPTY && ptr !== 0) rt.mem.setI32s(ptr, w.slice(0, max));
}

export const GRAPH_IMPLS: Record<string, Impl> = {
  MPI_Graph_create(rt, commH, nnodes, indexPtr, edgesPtr, _reorder, newPtr) {
    const c = rt.comm(commH);
    if (!(nnodes >= 0 && nnodes <= c.comm.size)) throw new MpiError(Err.ARG, `nnodes ${nnodes} for a communicator of ${c.comm.size}`);
    const index = rt.mem.i32s(indexPtr, nnodes);
    if (index.some((x, i) => x < (i === 0 ? 0 : index[i - 1]!))) throw new MpiError(Err.ARG, `index must be non-decreasing and non-negative: [${index}]`);
    const edges = rt.mem.i32s(edgesPtr, nnodes === 0 ? 0 : index[nnodes - 1]!);
    checkRanks(edges, nnodes, 'edge to');
    return withTopology(rt, c, nnodes, { kind: 'graph', index, edges }, newPtr);
  },

  MPI_Graphdims_get(rt, commH, nnodesPtr, nedgesPtr) {
    const t = graph(rt, commH);
    rt.mem.setI32(nnodesPtr, t.index.length);
    rt.mem.setI32(nedgesPtr, t.edges.length);
    return 0;
  },

  // The identity mapping, as MPI_Cart_map: ranks past the graph's nodes get MPI_UNDEFINED.
  MPI_Graph_map(rt, commH, nnodes, _indexPtr, _edgesPtr, newrankPtr) {
    const c = rt.comm(commH);
    if (!(nnodes >= 0 && nnodes <= c.comm.size)) throw new MpiError(Err.ARG, `nnodes ${nnodes} for ${c.comm.size} ranks`);
    rt.mem.setI32(newrankPtr, c.comm.rank < nnodes ? c.comm.rank : UNDEFINED);
    return 0;
  },

  MPI_Graph_get(rt, commH, maxindex, maxedges, indexPtr, edgesPtr) {
    const t = graph(rt, commH);
    rt.mem.setI32s(indexPtr, t.index.slice(0, maxindex));
    rt.mem.setI32s(edgesPtr, t.edges.slice(0, maxedges));
    return 0;
  },

  MPI_Graph_neighbors_count(rt, commH, rank, nPtr) {
    const t = graph(rt, commH);
    checkRanks([rank], t.index.length, 'rank');
    rt.mem.setI32(nPtr, graphNeighbors(t, rank).length);
    return 0;
  },

  MPI_Graph_neighbors(rt, commH, rank, max, outPtr) {
    const t = graph(rt, commH);
    checkRanks([rank], t.index.length, 'rank');
    rt.mem.setI32s(outPtr, graphNeighbors(t, rank).slice(0, max));
    return 0;
  },

  MPI_Dist_graph_create_adjacent(rt, commH, indegree, sourcesPtr, sweightsPtr, outdegree, destsPtr, dweightsPtr, _info, _reorder, newPtr) {
    const c = rt.comm(commH);
    if (indegree < 0 || outdegree < 0) throw new MpiError(Err.ARG, `degrees must be non-negative, got ${indegree} in, ${outdegree} out`);
    const sources = rt.mem.i32s(sourcesPtr, indegree);
    const dests = rt.mem.i32s(destsPtr, outdegree);
    checkRanks(sources, c.comm.size, 'source');
    checkRanks(dests, c.comm.size, 'destination');
    const topo: Dist = {
      kind: 'dist', sources, dests,
      sourceWeights: weights(rt, sweightsPtr, indegree, 'sourceweights'),
      destWeights: weights(rt, dweightsPtr, outdegree, 'destweights'),
    };
    return distComm(rt, c, topo).then((h) => (rt.mem.setI32(newPtr, h), 0));
  },

  MPI_Dist_graph_create(rt, commH, n, sourcesPtr, degreesPtr, destsPtr, weightsPtr, _info, _reorder, newPtr) {
    const c = rt.comm(commH);
    if (n < 0) throw new MpiError(Err.ARG, `n ${n} is negative`);
    const srcs = rt.mem.i32s(sourcesPtr, n);
    const degrees = rt.mem.i32s(degreesPtr, n);
    if (degrees.some((d) => d < 0)) throw new MpiError(Err.ARG, `degrees must be non-negative: [${degrees}]`);
    const total = degrees.reduce((a, b) => a + b, 0);
    const dests = rt.mem.i32s(destsPtr, total);
    checkRanks(srcs, c.comm.size, 'source');
    checkRanks(dests, c.comm.size, 'destination');
    const w = weights(rt, weightsPtr, total, 'weights');
    // Any rank may name any edge: every rank learns every edge, then keeps its own, in rank-then-call order.
    const mine: number[] = [];
    let k = 0;
    srcs.forEach((s, i) => {
      for (let e = 0; e < degrees[i]!; e++, k++) mine.push(s, dests[k]!, w?.[k] ?? 1);
    });
    const me = c.comm.rank;
    return c.comm.allgather(mine).then(async (all) => {
      const topo: Dist = { kind: 'dist', sources: [], dests: [], sourceWeights: w && [], destWeights: w && [] };
      for (const edges of all as number[][]) {
        for (let i = 0; i < edges.length; i += 3) {
          const [s, d, wt] = [edges[i]!, edges[i + 1]!, edges[i + 2]!];
          if (d === me) topo.sources.push(s), topo.sourceWeights?.push(wt);
          if (s === me) topo.dests.push(d), topo.destWeights?.push(wt);
        }
      }
      rt.mem.setI32(newPtr, await distComm(rt, c, topo));
      return 0;
    });
  },

  MPI_Dist_graph_neighbors_count(rt, commH, inPtr, outPtr, weightedPtr) {
    const t = dist(rt, commH);
    rt.mem.setI32(inPtr, t.sources.length);
    rt.mem.setI32(outPtr, t.dests.length);
    rt.mem.setI32(weightedPtr, t.sourceWeights !== undefined || t.destWeights !== undefined ? 1 : 0);
    return 0;
  },

  MPI_Dist_graph_neighbors(rt, commH, maxin, sourcesPtr, sweightsPtr, maxout, destsPtr, dweightsPtr) {
    const t = dist(rt, commH);
    rt.mem.setI32s(sourcesPtr, t.sources.slice(0, maxin));
    writeWeights(rt, sweightsPtr, t.sourceWeights, maxin);
    rt.mem.setI32s(destsPtr, t.dests.slice(0, maxout));
    writeWeights(rt, dweightsPtr, t.destWeights, maxout);
    return 0;
  },
};
