import { ChannelError, FmiError } from '../../errors.js';
import type { Arrival, Matcher } from '../matcher.js';
import { damaged, HEADER_BYTES, markOf, newHeader, parseHeader } from './frame.js';

interface Reassembly {
  arrival: Arrival;
  offset: number;
  next: number;
  count: number;
  total: number;
}

/**
 * Turns the frames popped from a rank's inbox into matcher deliveries. A
 * one-frame message is delivered at once; a chunked one is matched on its
 * first chunk (so arrival order decides matching, as MPI requires) and filled
 * chunk by chunk, per source, since chunks of different senders interleave.
 * A frame seen before (a send made again after a reconnect, or a frame read
 * again from the processing list) is dropped; a gap in a sender's sequence
 * numbers (the server lost messages) fails the channel.
 */
export class InboxReader {
  readonly #matcher: Matcher;
  readonly #size: number;
  readonly #rank: number;
  readonly #fatal: (err: FmiError) => void;
  readonly #mark: (n: number) => void;
  readonly #partial: (Reassembly | undefined)[];
  /** Per source: the sequence number of the last message whose first frame came. */
  readonly #seq: Uint32Array;
  readonly #h = newHeader();
  readonly #open: ((b: Buffer) => Buffer) | undefined;

  /**
   * `fatal` is told of a frame that cannot be attributed to a sender: nothing
   * in the inbox can be trusted then. `mark` is told of each marker frame,
   * once every frame pushed before it has been handed to the matcher.
   */
  constructor(matcher: Matcher, rank: number, size: number, fatal: (err: FmiError) => void, mark: (n: number) => void = () => {}, open?: (b: Buffer) => Buffer) {
    this.#open = open;
    this.#matcher = matcher;
    this.#rank = rank;
    this.#size = size;
    this.#fatal = fatal;
    this.#mark = mark;
    this.#partial = new Array<Reassembly | undefined>(size);
    this.#seq = new Uint32Array(size);
  }

  frame(b: Buffer): void {
    const mark = markOf(b);
    if (mark !== undefined) return this.#mark(mark);
    if (this.#open) {
      // The opt-in check (integrity.ts): a frame that fails it cannot be attributed to anyone.
      try {
        b = this.#open(b);
      } catch (err) {
        this.#fatal(err as FmiError);
        return;
      }
    }
    const h = this.#h;
    const problem = parseHeader(b, h);
    if (problem !== undefined || h.source >= this.#size) {
      this.#fatal(damaged(problem ?? `source rank ${h.source} in a job of ${this.#size}`, { rank: this.#rank, op: 'recv' }));
      return;
    }
    const source = h.source;
    const partial = this.#partial[source];
    const payload = b.subarray(HEADER_BYTES);
    // Sequence numbers: the same message again is a resend (drop what was seen),
    // the next one is new, an older one is a resend, a later one means some were lost.
    const ahead = (h.seq! - this.#seq[source]!) >>> 0;
    if (ahead === 0) {
      if (!partial || h.index < partial.next) return;
    } else if (ahead >= 2 ** 31) {
      return;
    } else if (ahead > 1) {
      const err = new ChannelError(
        `the redis server lost messages of rank ${source} to rank ${this.#rank} (message ${h.seq} came after ${this.#seq[source]}); did it restart without persistence?`,
        { rank: this.#rank, peer: source, op: 'recv', channel: 'redis' },
      );
      this.#fatal(err);
      return;
    } else if (h.index === 0) {
      this.#seq[source] = h.seq!;
    } else {
      return this.#broken(source, `chunk ${h.index} of ${h.count} from rank ${source} without its first`);
    }
    if (h.index === 0) {
      if (partial) return this.#broken(source, `rank ${source} started a message before finishing the last`);
      if (h.count === 1) {
        this.#matcher.deliver(source, h.ctx, h.tag, h.kind, payload);
        return;
      }
      const r: Reassembly = { arrival: this.#matcher.arrive(source, h.ctx, h.tag, h.kind, h.total), offset: 0, next: 0, count: h.count, total: h.total };
      this.#partial[source] = r;
      this.#fill(source, r, payload);
      return;
    }
    if (!partial || h.index !== partial.next || h.count !== partial.count || h.total !== partial.total) {
      return this.#broken(source, `chunk ${h.index} of ${h.count} from rank ${source} out of order`);
    }
    this.#fill(source, partial, payload);
  }

  #fill(source: number, r: Reassembly, payload: Buffer): void {
    if (r.offset + payload.length > r.total) return this.#broken(source, `chunks of rank ${source} overrun the message`);
    r.arrival.target().set(payload, r.offset);
    r.offset += payload.length;
    r.next++;
    if (r.next < r.count) return;
    this.#partial[source] = undefined;
    if (r.offset !== r.total) return this.#fail(source, r, this.#damaged(source, `rank ${source} sent ${r.offset} of ${r.total} bytes`));
    r.arrival.complete();
  }

  #broken(source: number, what: string): void {
    const err = this.#damaged(source, what);
    const r = this.#partial[source];
    this.#partial[source] = undefined;
    if (r) this.#fail(source, r, err);
    else this.#matcher.failSource(source, err);
  }

  #fail(source: number, r: Reassembly, err: FmiError): void {
    r.arrival.fail(err);
    this.#matcher.failSource(source, err);
  }

  #damaged(source: number, what: string): FmiError {
    return damaged(what, { rank: this.#rank, peer: source, op: 'recv' });
  }
}
