import type { Redis } from 'ioredis';
import { retryable } from './client.js';

/** A write that failed while the connection still says 'ready' is tried this often, this far apart. */
const READY_RETRIES = 50;
const READY_RETRY_MS = 20;

interface Entry {
  /** Issues the writes (all in this tick) and returns the reply that settles them. */
  write(): Promise<unknown>;
  attempt: number;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The channel's writes that must survive a reconnect, in the order they were
 * made: sends (and puts). Each is written at once while the connection is
 * up; one whose reply was cut off by a lost connection stays here, and when
 * the connection is back (`resume`) every write not yet answered is made
 * again, in the original order, before any later one. The server may have
 * done the first attempt: a send's frames carry a sequence number, so the
 * reader drops the second copy (inbox-reader.ts), and a put writes the same
 * value again.
 *
 * `write` must rebuild its frames from what the caller passed (the caller's
 * buffer stays valid until its promise settles; the frame scratch does not).
 */
export class Outbox {
  readonly #c: Redis;
  readonly #pending = new Set<Entry>();
  #held = false;

  constructor(c: Redis) {
    this.#c = c;
    // From the moment the connection drops, new writes wait behind the unanswered ones.
    c.on('close', () => (this.#held = true));
  }

  push(write: () => Promise<unknown>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const e: Entry = { write, attempt: 0, resolve, reject };
      this.#pending.add(e);
      if (!this.#held) this.#try(e);
    });
  }

  /** The connection is back (and the server kept the job's data): make every unanswered write again, in order. */
  resume(): void {
    this.#held = false;
    for (const e of this.#pending) this.#try(e);
  }

  /** Nothing will be written any more: every pending write fails with `err`. */
  fail(err: unknown): void {
    this.#held = true;
    for (const e of this.#pending) e.reject(err);
    this.#pending.clear();
  }

  #try(e: Entry): void {
    const n = ++e.attempt;
    let reply: Promise<unknown>;
    try {
      reply = e.write();
    } catch (err) {
      reply = Promise.reject(err);
    }
    reply.then(
      () => {
        if (!this.#pending.delete(e)) return;
        e.resolve();
      },
      (err) => {
        if (e.attempt !== n || !this.#pending.has(e)) return;
        // resume() writes it again. The connection cannot be back before this
        // runs (what was in flight fails at close, a write while down at once).
        if (retryable(err) && this.#c.status !== 'end') {
          if (this.#c.status !== 'ready') {
            this.#held = true;
            return;
          }
          // Still 'ready', yet the write failed: its stream closed and the 'close' event is not out
          // yet, or the server is loading. Nothing was written: try again shortly (a close meanwhile
          // holds it for resume()), for at most about a second.
          if (n < READY_RETRIES) {
            setTimeout(() => {
              if (!this.#held && e.attempt === n && this.#pending.has(e)) this.#try(e);
            }, READY_RETRY_MS);
            return;
          }
        }
        this.#pending.delete(e);
        e.reject(err);
      },
    );
  }
}
