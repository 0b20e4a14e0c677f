import type { Redis, RedisOptions } from 'ioredis';
import { ChannelError, FmiError, type FmiErrorFields } from '../../errors.js';

/** Where the Redis server is: a URL, or a host and port. */
export interface RedisAddress {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Wins over host/port. */
  url?: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 6379 */
  port?: number;
}

export function describeAddress(a: RedisAddress): string {
  if (a.url) return a.url.replace(/\/\/[^@/]*@/, '//***@');
  return `${a.host ?? '127.0.0.1'}:${a.port ?? 6379}`;
}

/**
 * Opens one connection and waits until it is ready. The options matter for
 * correctness, not only speed:
 * - a lost connection is reconnected by ioredis (with the same credentials)
 *   for up to `reconnectMs` after it was lost, then given up ('end'); 0: never;
 * - no offline queue and no resend by ioredis: a command issued while the
 *   connection is down fails at once, and so does every command in flight
 *   when it drops (MaxRetriesPerRequestError), so each caller decides what
 *   may be sent again (`retryable`, `retried`, outbox.ts): a blind resend
 *   could deliver a message twice, or pop one whose reply was lost. Every
 *   command is written to the socket during the call, so a buffer passed to
 *   it may be reused as soon as the call returns;
 * - no CLIENT SETINFO round trips at connect (Redis < 7.2 rejects them anyway).
 */
export async function openClient(a: RedisAddress, timeoutMs: number, fields: FmiErrorFields, reconnectMs = 0): Promise<Redis> {
  let lostAt = 0;
  const o: RedisOptions = {
    lazyConnect: true,
    retryStrategy: (times) => {
      if (times === 1) lostAt = Date.now();
      const left = lostAt + reconnectMs - Date.now();
      return left > 0 ? Math.min(left, 50 * times, 250) : null;
    },
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    disableClientInfo: true,
    noDelay: true,
  };
  // Loaded here, not at import: a job without Redis never pays its ~80 ms load.
  const { Redis } = await import('ioredis');
  const client = a.url ? new Redis(a.url, o) : new Redis({ ...o, host: a.host ?? '127.0.0.1', port: a.port ?? 6379 });
  // Errors surface through the commands that fail; this keeps ioredis from
  // logging them, and keeps the one that explains a failed connect (a wrong
  // password shows only as "Connection is closed" otherwise).
  let why: Error | undefined;
  client.on('error', (e: Error) => (why = e));
  try {
    await client.connect();
  } catch (cause) {
    client.disconnect();
    const reason = why ?? (cause as Error);
    throw new ChannelError(`redis server ${describeAddress(a)} unreachable: ${reason.message}`, { ...fields, cause: reason });
  }
  return client;
}

/**
 * Whether a failed command may have failed only because the connection
 * dropped (so the same command may be issued again once it is back). A
 * reply error of the server is final, except LOADING (a restarted server
 * reading its data back).
 */
export function retryable(err: unknown): boolean {
  if (err instanceof FmiError || !(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return /^LOADING\b/.test(err.message);
  return true;
}

/**
 * Resolves once `c` is ready (at once if it is); rejects with `lost()` once
 * ioredis gave up reconnecting, or `signal` aborts.
 */
export function whenReady(c: Redis, lost: () => Error, signal?: AbortSignal): Promise<void> {
  if (c.status === 'ready') return Promise.resolve();
  if (c.status === 'end') return Promise.reject(lost());
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      c.off('ready', onReady);
      c.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(lost());
    const onAbort = () => done(signal!.reason as Error);
    c.on('ready', onReady);
    c.on('end', onEnd);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, waiting for `c` to reconnect after each
 * failure that came from a lost connection. Only for what is safe to do twice
 * (reads, idempotent writes): the first attempt may have been done.
 */
export async function retried<T>(c: Redis, attempt: () => Promise<T>, lost: () => Error, signal?: AbortSignal): Promise<T> {
  // A retryable failure on a connection that is ready again: a few tries, not a spin.
  for (let ready = 0; ; ) {
    try {
      return await attempt();
    } catch (err) {
      if (!retryable(err) || c.status === 'end' || (c.status === 'ready' && ++ready > 3)) throw err;
      await whenReady(c, lost, signal);
    }
  }
}

/** Wraps what ioredis threw; errors of our own pass through. */
export function channelError(cause: unknown, what: string, fields: FmiErrorFields): FmiError {
  if (cause instanceof FmiError) return cause;
  return new ChannelError(`redis ${what}: ${(cause as Error)?.message ?? String(cause)}`, { ...fields, cause });
}

/** Resolves when `p` settles or after `ms`, whichever is first; never rejects. */
export function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
    p.then(
      () => {
        clearTimeout(t);
        resolve();
      },
      () => {
        clearTimeout(t);
        resolve();
      },
    );
  });
}

const noop = () => {};

/**
 * Writes one command of a MULTI block. Its own reply is only "QUEUED" (or a
 * syntax error that makes EXEC fail), so the outcome is read from EXEC.
 */
export function queue(c: Redis, command: string, args: (string | Buffer)[]): void {
  c.callBuffer(command, args).catch(noop);
}

/**
 * Starts a MULTI block; every command up to `exec` must be written in the same
 * tick. The socket is corked meanwhile, so the block leaves in one write.
 */
export function multi(c: Redis): void {
  c.stream?.cork();
  c.call('MULTI').catch(noop);
}

/** Ends a MULTI block; rejects if any command in it failed. */
export async function exec(c: Redis): Promise<unknown[]> {
  const reply = c.call('EXEC');
  c.stream?.uncork();
  const r = await reply;
  if (!Array.isArray(r)) throw new Error('transaction aborted');
  for (const x of r) if (x instanceof Error) throw x;
  return r;
}
