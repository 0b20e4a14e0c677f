import { PeerLostError } from '../errors.js';
import { ANY_SOURCE } from './channel.js';
import type { Matcher } from './matcher.js';

/** How a peer left: it closed its channel, or its heartbeat stopped (killed, timed out, crashed). */
export type Departure = 'died' | 'closed';

/**
 * The peers a storage channel (Redis, S3) found gone, for certain: their
 * heartbeat stopped or they closed, and every message they sent before has
 * been delivered. Receives and probes naming such a peer fail with
 * FMI_PEER_LOST, now and later.
 *
 * ANY_SOURCE: a receive from any source fails only once every other rank of
 * the job is lost (as long as one may still send, it may be the one). This is
 * what MPI's fault-tolerance proposals (ULFM) do for a wildcard receive whose
 * possible senders all failed; per-communicator membership is not known down
 * here, so "every rank" means the job's ranks.
 */
export class LostPeers {
  readonly #lost = new Map<number, PeerLostError>();
  readonly #matcher: Matcher;
  readonly #rank: number;
  readonly #size: number;
  readonly #channel: string;

  constructor(matcher: Matcher, rank: number, size: number, channel: string) {
    this.#matcher = matcher;
    this.#rank = rank;
    this.#size = size;
    this.#channel = channel;
  }

  /** Why a receive from `source` cannot be answered, if it cannot (ANY_SOURCE: when every other rank is lost). */
  get(source: number): PeerLostError | undefined {
    if (source !== ANY_SOURCE) return this.#lost.get(source);
    if (this.#size <= 1 || this.#lost.size < this.#size - 1) return undefined;
    return new PeerLostError(`every other rank of the job is gone; no rank is left to send to a receive from any source`, {
      rank: this.#rank,
      channel: this.#channel,
    });
  }

  has(source: number): boolean {
    return this.#lost.has(source);
  }

  /** `source` is gone and its messages are all delivered: fail what waits on it. */
  confirm(source: number, how: Departure, detail: string): void {
    if (this.#lost.has(source)) return;
    const what = how === 'closed' ? 'closed its channel' : `died (${detail})`;
    const err = new PeerLostError(`rank ${source} ${what}`, { rank: this.#rank, peer: source, channel: this.#channel });
    this.#lost.set(source, err);
    this.#matcher.failSource(source, err);
    const any = this.get(ANY_SOURCE);
    if (any) this.#matcher.failSource(ANY_SOURCE, any);
  }

  /** The peers worth checking now: those pending receives or probes name (all, for ANY_SOURCE), not yet lost. */
  watched(): number[] {
    const waiting = this.#matcher.waitingSources();
    const out: number[] = [];
    for (let s = 0; s < this.#size; s++) {
      if (s !== this.#rank && !this.#lost.has(s) && (waiting.has(s) || waiting.has(ANY_SOURCE))) out.push(s);
    }
    return out;
  }
}
