export { init, ENV, type InitOptions } from './comm/init.js';
export {
  Communicator,
  UNDEFINED,
  RING_MIN_BYTES,
  RABENSEIFNER_MIN_BYTES,
  type SendOptions,
  type RecvOptions,
  type ProbeOptions,
  type VectorOptions,
  type AllreduceOptions,
  type CommunicatorOptions,
} from './comm/communicator.js';
export { Request, Status, waitAll, waitAny, testAll } from './comm/request.js';
export { ROOT, PROC_NULL, type InterRoot } from './comm/inter-collectives.js';
export { interBcast, interReduce, interGather, interScatter, interGatherv, interScatterv } from './comm/inter-rooted.js';
export { interAllgather, interAllgatherv, interAllreduce, interAlltoall, interAlltoallv, interReduceScatter } from './comm/inter-all.js';
export { ANY_SOURCE, ANY_TAG } from './channels/channel.js';
export { TAG_UB } from './comm/validate.js';
export { Op, type OpProperties, type ReduceFn } from './ops/op.js';
export { sharedArray, type NumericArrayCtor } from './collectives/shared-array.js';
export type { OpOptions } from './util/deadline.js';
export {
  FmiError,
  TimeoutError,
  AbortError,
  PeerLostError,
  ChannelError,
  TruncateError,
  ClosedError,
  MismatchError,
  type FmiErrorCode,
  type FmiErrorFields,
} from './errors.js';
export { RendezvousServer, type RendezvousServerOptions, type RendezvousStats } from './rendezvous/server.js';
export type { Endpoint } from './rendezvous/protocol.js';
export type { ServerAddress, ServerTls } from './rendezvous/transport.js';
export type { Channel, Envelope, Received, RecvRequest } from './channels/channel.js';
export { DirectChannel, type DirectChannelOptions } from './channels/direct/direct-channel.js';
export { RedisChannel, redisChannel, type RedisChannelOptions } from './channels/redis/index.js';
export { S3Channel, s3Channel, cleanJob, type S3ChannelOptions } from './channels/s3/index.js';
export { loadConfig, DEFAULT_CONFIG } from './config/index.js';
export type { FmiConfig, ChannelName } from './config/types.js';
export { Policy } from './model/index.js';
export type { Hint, OpName, Estimate, Choice } from './model/types.js';
export type { OpStats } from './comm/communicator.js';
