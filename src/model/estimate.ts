import { FmiError } from '../errors.js';
import type { FmiConfig } from '../config/types.js';
import { directTraffic } from './direct.js';
import { storeTraffic } from './mediated.js';
import { NODE_OPS, nodeTraffic, twoLevelTraffic } from './node.js';
import { GIB, MIB, modelParams, type ModelParams } from './params.js';
import { S3_BACKOFF } from './polling.js';
import { UNFILLED_MIN_BYTES } from '../util/fresh.js';
import { MODEL_CHANNELS, OPS, type Estimate, type ModelChannel, type ModelOptions, type OpName } from './types.js';

/** Function memory the model assumes when none is given, MiB. */
export const DEFAULT_MEMORY_MIB = 1024;

/**
 * The model's time and cost of one operation on one channel.
 *
 * time: see directTraffic (direct) and storeTraffic (redis, s3), plus the
 * result's fresh memory: FaaS.fresh_overhead plus fresh_memory per byte of a result written
 * into new memory by a copy (the gathered parts at a gather's root, the
 * buffer of a reduce, scan or direct allreduce), once, at the end; nothing
 * with `into`, for a barrier, below FRESH_MIN_BYTES, or for a result the
 * socket or the store's reply fills (freshBytes).
 * cost, USD, the sum of:
 * - requests: S3 only, upload_price per PUT + download_price per GET and per poll;
 * - infrastructure: Redis per write or read, direct per message:
 *   instance_price (vm_price) / requests_per_hour, or with `opsPerHour`
 *   the hourly price / (opsPerHour * requests of this operation);
 * - transfer: transfer_price per GB written or read (storage); direct counts
 *   each message at both ends, as the reference does;
 * - functions: gib_second_price * memory GiB * time * ranks: every rank is
 *   billed while the operation runs.
 *
 * `bytes` is per rank: the message (send, bcast), each rank's part (gather,
 * scatter) or the buffer (reduce, allreduce, scan); a barrier ignores it.
 * For send/recv `ranks` only sets how many functions are billed meanwhile.
 */
export function estimate(
  channel: ModelChannel,
  op: OpName,
  bytes: number,
  ranks: number,
  config: FmiConfig,
  options: ModelOptions = {},
): Estimate {
  return estimateWith(paramsOf(config), channel, op, bytes, ranks, options);
}

/** `estimate` with the config already converted (the policy converts once). */
export function estimateWith(p: ModelParams, channel: ModelChannel, op: OpName, bytes: number, ranks: number, options: ModelOptions = {}): Estimate {
  checkArgs(channel, op, bytes, ranks, options);
  const memoryMiB = options.memoryMiB ?? DEFAULT_MEMORY_MIB;
  const payload = op === 'barrier' ? 0 : bytes;
  const requests = { messages: 0, puts: 0, gets: 0, polls: 0 };
  const cost = { requests: 0, infrastructure: 0, transfer: 0, functions: 0 };
  let time: number;
  let moved: number;
  const share = (pricePerHour: number, perHour: number, count: number) =>
    count === 0 || pricePerHour === 0 ? 0 : (count * pricePerHour) / (options.opsPerHour !== undefined ? options.opsPerHour * count : perHour);

  if (channel === 'direct') {
    const per = options.ranksPerProcess ?? 1;
    const t = per > 1 && per < ranks && NODE_OPS.has(op) ? twoLevelTraffic(op, payload, ranks, per, p.shm, p.direct, options.directAllreduce) : directTraffic(op, payload, ranks, p.direct, options.directAllreduce);
    time = t.time_s;
    moved = t.bytes;
    requests.messages = t.messages;
    cost.infrastructure = share(p.direct.vmPricePerHour, p.direct.requestsPerHour, t.messages);
    cost.transfer = 2 * t.bytes * p.direct.transferPerByte;
  } else if (channel === 'shm') {
    // Thread ranks of one process: the node arena's collectives (an allreduce given an explicit algorithm
    // takes messages, which the communicator's pricing cannot tell apart), the direct channel's algorithms for the rest.
    const t = NODE_OPS.has(op) ? nodeTraffic(op, payload, ranks, p.shm) : directTraffic(op, payload, ranks, p.shm, options.directAllreduce);
    time = t.time_s;
    moved = t.bytes;
    requests.messages = t.messages;
  } else if (channel === 'redis') {
    const t = storeTraffic(op, payload, ranks, { alpha: p.redis.alpha, beta: p.redis.beta, betaTotal: p.redis.betaTotal, gap: p.redis.gap, alphaAll: p.redis.alphaAll, alphaFan: p.redis.alphaFan, fanIn: p.redis.fanIn });
    time = t.time_s;
    moved = t.bytes;
    requests.puts = t.puts;
    requests.gets = t.gets;
    cost.infrastructure = share(p.redis.instancePricePerHour, p.redis.requestsPerHour, t.puts + t.gets);
    cost.transfer = t.bytes * p.redis.transferPerByte;
  } else {
    const t = storeTraffic(op, payload, ranks, { alpha: p.s3.alpha, beta: p.s3.beta, betaTotal: Infinity, gap: p.s3.gap, alphaAll: p.s3.alphaAll, polling: options.backoff ?? S3_BACKOFF });
    time = t.time_s;
    moved = t.bytes;
    requests.puts = t.puts;
    requests.gets = t.gets;
    requests.polls = t.polls;
    cost.requests = t.puts * p.s3.putPrice + (t.gets + t.polls) * p.s3.getPrice;
    cost.transfer = t.bytes * p.s3.transferPerByte;
  }
  // Thread ranks' node collectives copy their results out of the shared arena (node-bcast.ts: slice()): copied, as on shm.
  const per = options.ranksPerProcess ?? 1;
  const copiedOut = channel === 'direct' && per > 1 && per < ranks && NODE_OPS.has(op) ? 'shm' : channel;
  const fresh = options.into ? 0 : freshBytes(copiedOut, op, payload, ranks);
  time += fresh > 0 ? p.freshPerCall + fresh * p.freshPerByte : 0;
  cost.functions = p.gibSecondPrice * ((memoryMiB * MIB) / GIB) * time * ranks;
  const cost_usd = cost.requests + cost.infrastructure + cost.transfer + cost.functions;
  return { channel, op, bytes, ranks, memoryMiB, time_s: time, cost_usd, cost, requests, bytes_moved: moved };
}

/**
 * From this size on a new result is taken from malloc as it is
 * (util/fresh.ts: not zero-filled first) and costs the function fresh
 * memory: FaaS.fresh_overhead per result plus fresh_memory per byte. Below
 * it the result is a small zero-filled array that the heap serves from
 * memory it already has. The calibration times sizes from here on: a 64 KiB
 * allreduce without `into` took 0.73-0.79 ms against 0.37-0.43 ms with it
 * (4 ranks on 2 vCPUs, three jobs), a cost the 128 KiB floor this replaced
 * left out.
 */
export const FRESH_MIN_BYTES = UNFILLED_MIN_BYTES;

/**
 * Results that are a receive's own buffer on the direct channel: the socket fills it as the bytes
 * come (src/channels/arrivals.ts: unfilled, or the pool's buffer handed
 * over), and the pages fault in during the transfer, where the sender is
 * still writing. Measured (fmi calibrate, freshBcast): a 1 MiB and a 4 MiB
 * bcast took 0.2 ms more without `into` than with it, an allreduce 4 and
 * 13 ms more; so these pay no fresh-memory term. Copied results (an
 * allreduce's or reduce's out of Wasm memory, a gather's assembled array)
 * do.
 */
const RECEIVED: ReadonlySet<OpName> = new Set(['bcast', 'scatter', 'send', 'recv']);

/**
 * On a storage channel an allreduce's result is rank 0's one write, read
 * by the others (bcastStore): a view of the read's reply (ioredis's
 * Buffer, the S3 body), made with or without `into`, and already in the
 * calibrated read (the legs).
 */
const STORE_RECEIVED: ReadonlySet<OpName> = new Set([...RECEIVED, 'allreduce']);

/**
 * Bytes of new memory the result takes at the rank that finishes last (none
 * below FRESH_MIN_BYTES). On shm every result is copied out of the shared
 * arena (node-bcast.ts, node-reduce.ts), so every op pays.
 */
export function freshBytes(channel: ModelChannel, op: OpName, bytes: number, ranks: number): number {
  if (op === 'barrier' || ranks <= 1) return 0;
  if (channel === 'direct' && RECEIVED.has(op)) return 0;
  if ((channel === 'redis' || channel === 's3') && STORE_RECEIVED.has(op)) return 0;
  const b = op === 'gather' ? ranks * bytes : bytes;
  return b >= FRESH_MIN_BYTES ? b : 0;
}

const paramsCache = new WeakMap<FmiConfig, ModelParams>();

export function paramsOf(config: FmiConfig): ModelParams {
  let p = paramsCache.get(config);
  if (!p) paramsCache.set(config, (p = modelParams(config)));
  return p;
}

function checkArgs(channel: ModelChannel, op: OpName, bytes: number, ranks: number, o: ModelOptions): void {
  const bad = (msg: string) => new FmiError('MPI_ERR_ARG', msg, { op: 'model' });
  if (!MODEL_CHANNELS.includes(channel)) throw bad(`unknown channel ${JSON.stringify(channel)} (known: ${MODEL_CHANNELS.join(', ')})`);
  if (!OPS.includes(op)) throw bad(`unknown operation ${JSON.stringify(op)} (known: ${OPS.join(', ')})`);
  if (!(Number.isFinite(bytes) && bytes >= 0)) throw bad(`bytes must be a finite number >= 0, got ${bytes}`);
  if (!(Number.isInteger(ranks) && ranks >= 1)) throw bad(`ranks must be an integer >= 1, got ${ranks}`);
  if (o.memoryMiB !== undefined && !(Number.isFinite(o.memoryMiB) && o.memoryMiB > 0)) throw bad(`memoryMiB must be > 0, got ${o.memoryMiB}`);
  if (o.opsPerHour !== undefined && !(Number.isFinite(o.opsPerHour) && o.opsPerHour > 0)) throw bad(`opsPerHour must be > 0, got ${o.opsPerHour}`);
  if (o.ranksPerProcess !== undefined && !(Number.isInteger(o.ranksPerProcess) && o.ranksPerProcess >= 1)) throw bad(`ranksPerProcess must be an integer >= 1, got ${o.ranksPerProcess}`);
}
