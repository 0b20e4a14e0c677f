/** Matches any source rank in a receive (issue: wildcards). */
export const ANY_SOURCE = -1;
/** Matches any tag in a receive. */
export const ANY_TAG = -1;

/** A message's envelope: communicator context, tag and payload kind. */
export interface Envelope {
  ctx: number;
  tag: number;
  kind: number;
}

export interface Received extends Envelope {
  source: number;
  /** The payload: a view on the receive target when one was given, else a buffer of its own. */
  data: Uint8Array;
}

/**
 * Where a receive puts the payload. A function is asked again for every chunk,
 * so targets in Wasm memory stay valid when that memory grows meanwhile.
 */
export type RecvTarget = Uint8Array | (() => Uint8Array);

export interface RecvRequest {
  source: number;
  ctx: number;
  tag: number;
  into?: RecvTarget;
  /** Size of `into` in bytes (needed when `into` is a function). */
  capacity?: number;
  signal?: AbortSignal;
  /**
   * When given, `into` takes only a message this accepts (its kind and length,
   * asked once, when it matches); any other gets a buffer of its own, as if
   * there were no `into` (a collective's result buffer that the message may
   * not be meant for: an error, a header, another size).
   */
  fits?: (kind: number, length: number) => boolean;
  /**
   * Called once, synchronously, when a message matches this receive (its
   * payload may still be on its way; the receive may still fail, say
   * truncated): synchronous sends are acknowledged from here.
   */
  onMatch?: (source: number, tag: number, kind: number) => void;
  /**
   * An empty message may come as one empty array shared by such receives (a
   * barrier's: its receive never hands the array on), not a new one each.
   */
  sharedEmpty?: boolean;
}

/**
 * What a channel's send returns when the transport took the whole payload
 * before it returned: the same settled promise every time, so a caller on a
 * hot path may go on without awaiting it (a turn of the microtask queue and
 * its allocations per send).
 */
export const SENT: Promise<void> = Promise.resolve();

/**
 * A receive that settles itself (Channel.recvTo): the transport calls
 * `resolve` or `reject` once, synchronously, where the message completes (a
 * socket's read callback), with no promise of its own in between. `seq` and
 * `onAbort` belong to the matcher, which sets them.
 */
export interface OwnReceive {
  readonly req: RecvRequest;
  seq: number;
  onAbort: (() => void) | undefined;
  resolve(m: Received): void;
  reject(e: Error): void;
}

/**
 * The seam between collectives and transports: collectives and the
 * communicator never import a concrete channel.
 */
export interface Channel {
  readonly name: string;
  readonly rank: number;
  readonly size: number;
  /** Resolves once the payload has been handed to the transport; the caller may reuse it then. */
  send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void>;
  recv(req: RecvRequest): Promise<Received>;
  /**
   * Optional: posts `r.req` as recv does, and settles `r` itself instead of a
   * promise (a collective's receive that checks what came in as it lands).
   * False when this channel cannot now: the caller uses recv.
   */
  recvTo?(r: OwnReceive): boolean;
  /** The envelope of a message a receive like `req` would take now, if any; never blocks (MPI_Iprobe). */
  iprobe(req: ProbeRequest): Probed | undefined;
  /** Waits for a message a receive like `req` would take, without taking it (MPI_Probe). */
  probe(req: ProbeRequest): Promise<Probed>;
  /**
   * Fails the receives posted on context `ctx` from `source` that no message
   * has matched yet, with `err` (a collective call that is found failed
   * elsewhere withdraws the receives it still waits on). Never blocks.
   */
  cancel(ctx: number, source: number, err: Error): void;
  close(): Promise<void>;
}

export type ProbeRequest = Pick<RecvRequest, 'source' | 'ctx' | 'tag' | 'signal'>;

/** What a probe learns of a message: its envelope and size in bytes. */
export interface Probed {
  source: number;
  tag: number;
  kind: number;
  length: number;
}

/**
 * What storage channels (Redis, S3) add: a value written once and read by
 * many, the building block of mediated collectives (a bcast is one write and
 * size - 1 reads). Keys are relative to the channel's job namespace.
 */
export interface StoreChannel extends Channel {
  /**
   * Writes `payload` under `key`. It is deleted once `readers` ranks have read
   * it (where the store can count reads cheaply), or when this rank closes,
   * or when its TTL runs out.
   */
  put(key: string, kind: number, payload: Uint8Array, readers: number, signal?: AbortSignal): Promise<void>;
  /**
   * Waits until `key` exists (a blocking read, or polling with backoff) and
   * returns it. `writer` (a rank of the job) is the rank that puts it: while
   * this waits, its liveness is watched, and once it died or closed without
   * the value there, the get fails with FMI_PEER_LOST (a value that is there
   * is always returned).
   */
  get(key: string, signal?: AbortSignal, writer?: number): Promise<{ kind: number; data: Uint8Array }>;
}

export function isStoreChannel(c: Channel): c is StoreChannel {
  return typeof (c as StoreChannel).put === 'function' && typeof (c as StoreChannel).get === 'function';
}

/** Makes one rank's channel of a job: what tests and the launcher hand to a Communicator. */
export type ChannelFactory = (o: { job: string; rank: number; size: number }) => Promise<Channel>;
