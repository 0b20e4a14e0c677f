import { FmiError } from '../../errors.js';

/**
 * Opt-in polling for the direct channel (FMI_DIRECT_POLL_US): while a receive
 * or probe is pending, the event loop does not sleep in epoll, for up to
 * `us` microseconds after the last one was posted.
 *
 * A rank waiting for a message otherwise sleeps in epoll_wait, and on a VM
 * the wake-up (the idle vCPU halted; an interrupt, the scheduler, the switch
 * back into Node) costs tens of microseconds per message (bench/README.md,
 * "What the wall time of a 1 KiB allreduce on 4 ranks is made of"). Open MPI
 * busy-polls instead. Here a chain of setImmediate callbacks keeps an
 * immediate queued, so libuv polls with timeout 0 and turns the loop again:
 * the socket's bytes are read as soon as they land, without a sleep, while
 * timers and other I/O still run each turn. The price is a core kept busy
 * while waiting, which ranks sharing fewer cores than they are take from each
 * other: off by default.
 */
export class Poller {
  readonly #ms: number;
  #pending = 0;
  #running = false;
  #until = 0;

  constructor(us: number) {
    this.#ms = us / 1000;
  }

  /** Keeps the loop polling until `p` settles (or the budget runs out); returns `p`. */
  watch<T>(p: Promise<T>): Promise<T> {
    this.#pending++;
    this.#until = performance.now() + this.#ms;
    p.then(this.#settled, this.#settled);
    if (!this.#running) {
      this.#running = true;
      setImmediate(this.#tick);
    }
    return p;
  }

  readonly #settled = (): void => {
    this.#pending--;
  };

  readonly #tick = (): void => {
    if (this.#pending > 0 && performance.now() < this.#until) setImmediate(this.#tick);
    else this.#running = false;
  };
}

/** The poll budget from options or FMI_DIRECT_POLL_US: a finite number of microseconds >= 0 (0: off). */
export function pollMicros(v: unknown, rank: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new FmiError('FMI_CONFIG', `the direct channel's poll time (pollUs, FMI_DIRECT_POLL_US) must be a number of microseconds >= 0 (0: off), got ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`, { rank, channel: 'direct' });
  }
  return v;
}
