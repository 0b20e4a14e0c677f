import { Err, PROC_NULL } from './abi.js';
import { blocking, nonblocking, type Start } from './coll.js';
import { extentOf } from './datatypes.js';
import { MpiError } from './errors.js';
import { graphNeighbors } from './graph.js';
import { coordsOf, rankOf } from './topo.js';
import type { CommEntry, Impl, MpiRuntime } from './runtime.js';

// Neighborhood collectives (MPI 3.1 section 7.6) over the communicator's
// topology. Their messages travel on a private duplicate of the communicator,
// so no receive of the program can take them.

interface Neighbors {
  /** In-neighbors, by receive slot (PROC_NULL: the slot is left alone). */
  sources: number[];
  /** Out-neighbors, by send slot. */
  dests: number[];
  /** Tags of the message for send slot j and of the receive for slot j. */
  sendTag: (j: number) => number;
  recvTag: (j: number) => number;
}

const zero = () => 0;

function neighborsOf(c: CommEntry): Neighbors {
  const t = c.topo;
  const me = c.comm.rank;
  if (t?.kind === 'cart') {
    // Per dimension: the neighbor below, then the one above. What goes down
    // fills the receiver's "from above" slot and the other way round.
    const list: number[] = [];
    const at = coordsOf(t.dims, me);
    t.dims.forEach((_, d) => {
      for (const step of [-1, 1]) list.push(rankOf(t.dims, t.periods, at.map((x, i) => (i === d ? x + step : x))) ?? PROC_NULL);
    });
    return { sources: list, dests: list, sendTag: (j) => j ^ 1, recvTag: (j) => j };
  }
  // Graphs: several edges between one pair match in order (one tag, FIFO).
  if (t?.kind === 'graph') {
    const list = graphNeighbors(t, me);
    return { sources: list, dests: list, sendTag: zero, recvTag: zero };
  }
  if (t?.kind === 'dist') return { sources: t.sources, dests: t.dests, sendTag: zero, recvTag: zero };
  throw new MpiError(Err.TOPOLOGY, 'neighborhood collectives need a communicator with a topology (Cart_create, Graph_create, Dist_graph_create)');
}

/** Sends parts[j] to each out-neighbor j and returns what each in-neighbor sent (undefined for PROC_NULL). */
async function exchange(c: CommEntry, n: Neighbors, parts: (j: number) => Uint8Array): Promise<(Uint8Array | undefined)[]> {
  c.neighborComm ??= c.comm.dup({});
  const comm = await c.neighborComm;
  const recvs = n.sources.map((s, j) => (s === PROC_NULL ? undefined : comm.irecv<Uint8Array>(s, { tag: n.recvTag(j) })));
  const sends = n.dests.map((d, j) => (d === PROC_NULL ? undefined : comm.send(parts(j), d, { tag: n.sendTag(j) })));
  await Promise.all(sends);
  return Promise.all(recvs.map((r) => r?.wait()));
}

const addr = (ptr: number, bytes: number) => (ptr >>> 0) + bytes;

/** Writes the received parts at each slot's place; `place(j)` gives its pointer, count and type. */
function finishInto(rt: MpiRuntime, got: (Uint8Array | undefined)[], place: (j: number) => [number, number, number]) {
  return () =>
    got.forEach((bytes, j) => {
      if (bytes === undefined) return;
      const [ptr, count, th] = place(j);
      rt.write(ptr, count, th, bytes);
    });
}

const allgather: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, commH], copy) => {
  const c = rt.comm(commH!);
  const n = neighborsOf(c);
  const ext = rcount! * extentOf(rt.datatype(rtype!));
  const data = rt.read(sbuf!, scount!, stype!, copy);
  const got = await exchange(c, n, () => data);
  return finishInto(rt, got, (j) => [addr(rbuf!, j * ext), rcount!, rtype!]);
};

const allgatherv: Start = async (rt, [sbuf, scount, stype, rbuf, rcountsP, displsP, rtype, commH], copy) => {
  const c = rt.comm(commH!);
  const n = neighborsOf(c);
  const ext = extentOf(rt.datatype(rtype!));
  const rcounts = rt.mem.i32s(rcountsP!, n.sources.length);
  const displs = rt.mem.i32s(displsP!, n.sources.length);
  const data = rt.read(sbuf!, scount!, stype!, copy);
  const got = await exchange(c, n, () => data);
  return finishInto(rt, got, (j) => [addr(rbuf!, displs[j]! * ext), rcounts[j]!, rtype!]);
};

const alltoall: Start = async (rt, [sbuf, scount, stype, rbuf, rcount, rtype, commH]) => {
  const c = rt.comm(commH!);
  const n = neighborsOf(c);
  const sext = scount! * extentOf(rt.datatype(stype!));
  const rext = rcount! * extentOf(rt.datatype(rtype!));
  const parts = n.dests.map((_, j) => rt.read(addr(sbuf!, j * sext), scount!, stype!, true));
  const got = await exchange(c, n, (j) => parts[j]!);
  return finishInto(rt, got, (j) => [addr(rbuf!, j * rext), rcount!, rtype!]);
};

const alltoallv: Start = async (rt, [sbuf, scountsP, sdisplsP, stype, rbuf, rcountsP, rdisplsP, rtype, commH]) => {
  const c = rt.comm(commH!);
  const n = neighborsOf(c);
  const sext = extentOf(rt.datatype(stype!));
  const rext = extentOf(rt.datatype(rtype!));
  const [scounts, sdispls] = [rt.mem.i32s(scountsP!, n.dests.length), rt.mem.i32s(sdisplsP!, n.dests.length)];
  const [rcounts, rdispls] = [rt.mem.i32s(rcountsP!, n.sources.length), rt.mem.i32s(rdisplsP!, n.sources.length)];
  const parts = n.dests.map((_, j) => rt.read(addr(sbuf!, sdispls[j]! * sext), scounts[j]!, stype!, true));
  const got = await exchange(c, n, (j) => parts[j]!);
  return finishInto(rt, got, (j) => [addr(rbuf!, rdispls[j]! * rext), rcounts[j]!, rtype!]);
};

/** Alltoallw: a datatype per neighbor, displacements in bytes (MPI_Aint, 4 bytes on wasm32). */
const alltoallw: Start = async (rt, [sbuf, scountsP, sdisplsP, stypesP, rbuf, rcountsP, rdisplsP, rtypesP, commH]) => {
  const c = rt.comm(commH!);
  const n = neighborsOf(c);
  const [no, ni] = [n.dests.length, n.sources.length];
  const [scounts, sdispls, stypes] = [rt.mem.i32s(scountsP!, no), rt.mem.i32s(sdisplsP!, no), rt.mem.i32s(stypesP!, no)];
  const [rcounts, rdispls, rtypes] = [rt.mem.i32s(rcountsP!, ni), rt.mem.i32s(rdisplsP!, ni), rt.mem.i32s(rtypesP!, ni)];
  const parts = n.dests.map((_, j) => rt.read(addr(sbuf!, sdispls[j]!), scounts[j]!, stypes[j]!, true));
  const got = await exchange(c, n, (j) => parts[j]!);
  return finishInto(rt, got, (j) => [addr(rbuf!, rdispls[j]!), rcounts[j]!, rtypes[j]!]);
};

const STARTS: Record<string, Start> = { allgather, allgatherv, alltoall, alltoallv, alltoallw };

export const NEIGHBOR_IMPLS: Record<string, Impl> = {
  ...Object.fromEntries(Object.entries(STARTS).map(([k, s]) => [`MPI_Neighbor_${k}`, blocking(s)])),
  ...Object.fromEntries(Object.entries(STARTS).map(([k, s]) => [`MPI_Ineighbor_${k}`, nonblocking(s, `Neighbor_${k}`)])),
};
