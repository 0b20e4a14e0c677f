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
 * - no reconnect and no offline queue: a lost connection fails what was in
 *   flight instead of resending it later (a resent blocking pop could lose a
 *   message whose first reply was cut off), and every command is written to
 *   the socket during the call, so a buffer passed to it may be reused as
 *   soon as the call returns;
 * - no CLIENT SETINFO round trips at connect (Redis < 7.2 rejects them anyway).
 */
export async function openClient(a: RedisAddress, timeoutMs: number, fields: FmiErrorFields): Promise<Redis> {
  const o: RedisOptions = {
    lazyConnect: true,
    retryStrategy: () => null,
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
  // Errors surface through the commands that fail; this only keeps ioredis from logging them.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (cause) {
    client.disconnect();
    throw new ChannelError(`redis server ${describeAddress(a)} unreachable: ${(cause as Error).message}`, { ...fields, cause });
  }
  return client;
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
