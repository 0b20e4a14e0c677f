import type { Redis } from 'ioredis';
import type { FmiError, FmiErrorFields } from '../../errors.js';
import { openClient, retryable, type RedisAddress } from './client.js';
import { raceSignal } from '../../util/race.js';

/** A get blocked in Redis: it owns its connection until the value comes. */
export interface Wait {
  conn: Redis;
  key: string;
  /** The rank that writes the value, when the caller knows it: its death fails the get if the value never came. */
  writer: number | undefined;
  fail(err: Error): void;
}

export interface BlockingConnsOptions {
  address: RedisAddress;
  timeoutMs: number;
  reconnectMs: number;
  fields: FmiErrorFields;
  /** Maps a failure to the error callers see. */
  error(cause: unknown, op: string): FmiError;
  /** The error the store was closed with, if it was. */
  closed(): Error | undefined;
}

/** Idle blocking connections kept for later gets; more are closed. */
const MAX_IDLE = 4;

/**
 * The store's blocking connections: a blocking read holds its connection
 * until the value comes, so each waiting get takes one (kept idle after, up
 * to MAX_IDLE), and a wait can only be stopped by dropping its connection.
 */
export class BlockingConns {
  readonly #o: BlockingConnsOptions;
  readonly #idle: Redis[] = [];
  readonly #conns = new Set<Redis>();
  /** The gets blocked now. */
  readonly waits = new Set<Wait>();

  constructor(o: BlockingConnsOptions) {
    this.#o = o;
  }

  async acquire(signal: AbortSignal | undefined): Promise<Redis> {
    for (let idle = this.#idle.pop(); idle; idle = this.#idle.pop()) {
      // One that gave up reconnecting is no use (one reconnecting is: the get waits for it).
      if (idle.status !== 'end') return idle;
      this.#conns.delete(idle);
    }
    const opening = openClient(this.#o.address, this.#o.timeoutMs, { ...this.#o.fields, op: 'get' }, this.#o.reconnectMs);
    let conn: Redis;
    try {
      conn = await raceSignal(opening, signal);
    } catch (err) {
      opening.then((c) => c.disconnect(), () => {});
      throw err;
    }
    const closed = this.#o.closed();
    if (closed) {
      conn.disconnect();
      throw closed;
    }
    this.#conns.add(conn);
    return conn;
  }

  release(conn: Redis): void {
    if (!this.#o.closed() && conn.status === 'ready' && this.#idle.length < MAX_IDLE) this.#idle.push(conn);
    else this.drop(conn);
  }

  drop(conn: Redis): void {
    this.#conns.delete(conn);
    conn.disconnect();
  }

  /** Fails every blocked get with `err` and drops every connection. */
  close(err: Error): void {
    for (const w of [...this.waits]) w.fail(err);
    for (const c of this.#conns) c.disconnect();
    this.#conns.clear();
    this.#idle.length = 0;
  }

  /**
   * Waits for a blocking command. A blocked connection cannot be told to stop
   * short of closing it, so an abort, a close or a lost writer drops the
   * connection. Resolves to undefined if the connection dropped (and is
   * being reconnected).
   */
  wait(conn: Redis, reply: Promise<Buffer | null>, signal: AbortSignal | undefined, key: string, writer: number | undefined): Promise<Buffer | undefined> {
    return new Promise<Buffer | undefined>((resolve, reject) => {
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        this.waits.delete(w);
      };
      const w: Wait = {
        conn,
        key,
        writer,
        fail: (err) => {
          done();
          this.drop(conn);
          reject(err);
        },
      };
      const onAbort = () => w.fail(signal!.reason as Error);
      this.waits.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
      reply.then(
        (b) => {
          done();
          if (b) resolve(b);
          else reject(this.#o.error(new Error('blocking read returned nothing'), 'get'));
        },
        (err) => {
          done();
          // A lost connection: undefined, the caller waits for the reconnect and reads again.
          if (retryable(err) && conn.status !== 'end' && !this.#o.closed()) return resolve(undefined);
          this.drop(conn);
          reject(this.#o.error(err, 'get'));
        },
      );
    });
  }
}
