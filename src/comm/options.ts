import type { NumericArray } from '../kernels/index.js';
import type { OpOptions } from '../util/deadline.js';
import type { Status } from './request.js';

// The options of Communicator's methods, and what stats() reports.

export interface SendOptions extends OpOptions {
  /** @default 0 */
  tag?: number;
  /**
   * Resolve only once the receiver's matching receive has taken the message
   * (MPI_Ssend): the receiver answers with an acknowledgement. @default false
   */
  synchronous?: boolean;
}

export interface RecvOptions<T = unknown> extends OpOptions {
  /** A tag, or ANY_TAG. @default ANY_TAG */
  tag?: number;
  /**
   * Receive into this TypedArray instead of a new one (no allocation); the
   * result is a view of `into` as long as the message. A longer message fails
   * with MPI_ERR_TRUNCATE; a message of another type with MPI_ERR_TYPE.
   */
  into?: T extends NumericArray ? T : NumericArray;
  /** Filled with the message's source, tag and count. */
  status?: Status;
}

export interface ProbeOptions extends OpOptions {
  /** A tag, or ANY_TAG. @default ANY_TAG */
  tag?: number;
  status?: Status;
}

export interface VectorOptions extends OpOptions {
  /** Where each rank's part starts, in elements. @default running sum of the counts */
  displs?: number[];
}

export interface ReduceOptions extends OpOptions {
  /**
   * Write the result here (a TypedArray of the same type and length as the
   * data; the data itself for in place) instead of into a new array. Used
   * where a result arrives: the root of reduce, every rank of scan, ranks
   * above 0 of exscan.
   */
  into?: NumericArray;
}

export interface AllreduceOptions extends OpOptions {
  /**
   * `'auto'` takes, for TypedArrays with a predefined op on more than two
   * ranks, Rabenseifner's reduce-scatter + allgather from
   * RABENSEIFNER_MIN_BYTES and the ring from RING_MIN_BYTES; recursive
   * doubling otherwise. Every rank must pass the same. @default 'auto'
   */
  algorithm?: 'auto' | 'ring' | 'rabenseifner' | 'recursive-doubling';
  /**
   * Write the result here (a TypedArray of the same type and length as the
   * data; the data itself for in place) instead of into a new array.
   */
  into?: NumericArray;
}

export interface CommunicatorOptions {
  /** Identifies the job; ranks of different jobs never talk to each other. */
  job: string;
  /** Default timeout of every operation. @default none */
  timeoutMs?: number;
  /** Rooted collectives end with a verdict (see InitOptions.verdicts). @default false */
  verdicts?: boolean;
}

/** What `stats()` reports per operation. */
export interface OpStats {
  calls: number;
  /** Bytes per rank, summed over the calls whose size every rank knows. */
  bytes: number;
  timeMs: number;
  /** Calls per channel used. */
  channels: Record<string, number>;
  /** The cost model's USD for those calls (whole job, function time included). */
  modeledCostUsd: number;
  /** Of that, the channels' part (requests, infrastructure share, transfer): all but the functions' time. */
  modeledChannelUsd: number;
}
