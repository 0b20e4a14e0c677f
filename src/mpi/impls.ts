import { COLL_IMPLS } from './coll.js';
import { COMM_IMPLS } from './comms.js';
import { ENV_IMPLS } from './env.js';
import { GRAPH_IMPLS } from './graph.js';
import { GROUP_IMPLS } from './groups.js';
import { NEIGHBOR_IMPLS } from './neighbor.js';
import { INTERCOMM_IMPLS } from './intercomms.js';
import { P2P_IMPLS } from './p2p.js';
import { REQUEST_IMPLS } from './requests.js';
import type { Impl } from './runtime.js';
import { TOPO_IMPLS } from './topo.js';
import { TYPE_IMPLS } from './type-fns.js';
import { TYPE_ATTR_IMPLS } from './type-attrs.js';
import { EXTERNAL32_IMPLS } from './external32.js';
import { GREQUEST_IMPLS } from './grequest.js';
import { TOOL_IMPLS } from './tools.js';

/**
 * Every MPI function the runtime implements, by name. A name mpi.h declares
 * but this table lacks fails at run time with MPI_ERR_UNSUPPORTED_OPERATION.
 */
export const IMPLS: Readonly<Record<string, Impl>> = Object.freeze({
  ...ENV_IMPLS,
  ...P2P_IMPLS,
  ...REQUEST_IMPLS,
  ...COLL_IMPLS,
  ...COMM_IMPLS,
  ...INTERCOMM_IMPLS,
  ...GROUP_IMPLS,
  ...TYPE_IMPLS,
  ...TYPE_ATTR_IMPLS,
  ...EXTERNAL32_IMPLS,
  ...GREQUEST_IMPLS,
  ...TOPO_IMPLS,
  ...GRAPH_IMPLS,
  ...NEIGHBOR_IMPLS,
  ...TOOL_IMPLS,
});
