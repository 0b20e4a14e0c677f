export { init, ENV, type InitOptions } from './comm/init.js';
export {
  Communicator,
  UNDEFINED,
  RING_MIN_BYTES,
  type SendOptions,
  type RecvOptions,
  type ProbeOptions,
  type VectorOptions,
  type AllreduceOptions,
  type CommunicatorOptions,
} from './comm/communicator.js';
export { Request, Status, waitAll, waitAny, testAll } from './comm/request.js';
export { ANY_SOURCE, ANY_TAG } from './channels/channel.js';
export { TAG_UB } from './comm/validate.js';
export { Op, type OpProperties, type ReduceFn } from './ops/op.js';
export type { OpOptions } from './util/deadline.js';
export {
  FmiError,
  TimeoutError,
  AbortError,
  PeerLostError,
  ChannelError,
  TruncateError,
  ClosedError,
  type FmiErrorCode,
  type FmiErrorFields,
} from './errors.js';
export { RendezvousServer, type RendezvousServerOptions } from './rendezvous/server.js';
export type { Endpoint } from './rendezvous/protocol.js';
export type { Channel, Envelope, Received, RecvRequest } from './channels/channel.js';
