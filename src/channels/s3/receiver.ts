import { GetObjectCommand, type GetObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { ChannelError, FmiError } from '../../errors.js';
import { ANY_SOURCE } from '../channel.js';
import type { LostPeers } from '../lost-peers.js';
import type { Arrival, Matcher } from '../matcher.js';
import { Backoff, sleep, type PollPolicy } from './backoff.js';
import { httpStatus, s3Error } from './client.js';
import type { DeleteQueue } from './delete-queue.js';
import type { Gone, S3Liveness } from './liveness.js';
import { corrupted, sameTrailer, type Seal } from '../direct/integrity.js';
import { checkTrailerFlags, FLAG_SKIP, HEADER_BYTES, readHeader, type Keys } from './wire.js';

/** Most GETs one source's loop has in flight when messages keep coming. */
const MAX_WINDOW = 8;

export interface ReceiverOptions {
  client: S3Client;
  bucket: string;
  keys: Keys;
  matcher: Matcher;
  deletes: DeleteQueue;
  policy: PollPolicy;
  rank: number;
  size: number;
  /** Aborted when the channel closes: every loop and request stops. */
  signal: AbortSignal;
  lost: LostPeers;
  /** Absent when liveness is off: receives from a dead rank then wait for their timeout. */
  liveness: S3Liveness | undefined;
  /** Opt-in checks of every object (integrity.ts). */
  seal?: Seal;
}

/** The messages from one source: which key comes next, and its poll loop. */
interface Inbox {
  source: number;
  nextSeq: number;
  /** Receives and probes pending that name this source. */
  waiting: number;
  /** An iprobe keeps the loop going until then (performance.now()). */
  probeUntil: number;
  loop: Promise<void> | undefined;
  backoff: Backoff;
  nap: { wake(): void } | undefined;
  /** The source was found gone: the next miss means its messages are all read. */
  gone: Gone | undefined;
}

/**
 * The receiving half of the S3 channel: one poll loop per source that some
 * pending receive or probe names, reading that source's messages in sequence
 * order into the Matcher. See s3-channel.ts for the policy and its costs.
 */
export class Receiver {
  readonly #o: ReceiverOptions;
  readonly #inboxes: Inbox[];
  #waitingAny = 0;
  #probeAnyUntil = 0;

  constructor(o: ReceiverOptions) {
    this.#o = o;
    this.#inboxes = Array.from({ length: o.size }, (_, source) => ({
      source,
      nextSeq: 0,
      waiting: 0,
      probeUntil: 0,
      loop: undefined,
      backoff: new Backoff(o.policy),
      nap: undefined,
      gone: undefined,
    }));
  }

  /** A receive or probe from `source` (ANY_SOURCE: any) is pending until `p` settles: poll meanwhile. */
  wait(source: number, p: Promise<unknown>): void {
    if (source === ANY_SOURCE) {
      const fresh = this.#waitingAny++ === 0;
      this.#forEachPeer((box) => this.#poll(box, fresh && !this.#wanted(box, true)));
      const done = () => void this.#waitingAny--;
      p.then(done, done);
    } else {
      const box = this.#inboxes[source]!;
      const fresh = !this.#wanted(box);
      box.waiting++;
      this.#poll(box, fresh);
      const done = () => void box.waiting--;
      p.then(done, done);
    }
  }

  /** An iprobe found nothing: keep polling for a while, so a caller looping on iprobe finds the message. */
  probed(source: number): void {
    const until = performance.now() + 2 * this.#o.policy.maxMs;
    if (source === ANY_SOURCE) {
      this.#probeAnyUntil = until;
      this.#forEachPeer((box) => this.#poll(box, false));
    } else {
      const box = this.#inboxes[source]!;
      box.probeUntil = until;
      this.#poll(box, false);
    }
  }

  /** Resolves once every poll loop has ended (they end when the signal aborts). */
  async stopped(): Promise<void> {
    await Promise.allSettled(this.#inboxes.map((b) => b.loop));
  }

  #forEachPeer(fn: (box: Inbox) => void): void {
    for (const box of this.#inboxes) if (box.source !== this.#o.rank) fn(box);
  }

  #wanted(box: Inbox, ignoreAny = false): boolean {
    if (box.waiting > 0 || (!ignoreAny && this.#waitingAny > 0)) return true;
    if (box.probeUntil === 0 && this.#probeAnyUntil === 0) return false;
    const now = performance.now();
    return now < box.probeUntil || now < this.#probeAnyUntil;
  }

  /** Makes sure `box` is polled; a fresh wait starts from the shortest backoff. */
  #poll(box: Inbox, fresh: boolean): void {
    if (this.#o.signal.aborted || this.#o.lost.has(box.source)) return;
    if (box.loop) {
      if (fresh) {
        box.backoff.reset();
        box.nap?.wake();
      }
      return;
    }
    box.backoff.reset();
    box.loop = this.#pollLoop(box);
  }

  /**
   * GETs the next keys of one source while someone waits. Polls are spaced
   * by the backoff from one GET's start to the next (so the count per second
   * does not depend on how long a GET takes). One GET at a time normally;
   * after two rounds in a row found everything they asked for (a burst of
   * messages), each round asks for twice as many keys at once, up to
   * MAX_WINDOW, read in order.
   */
  async #pollLoop(box: Inbox): Promise<void> {
    const signal = this.#o.signal;
    let window = 1;
    let streak = 0;
    try {
      // A receive that an arrived message satisfied at once settles first: no request then.
      await null;
      while (!signal.aborted && this.#wanted(box)) {
        const started = performance.now();
        const hits = await this.#round(box, window);
        if (hits === window) {
          if (++streak >= 2) window = Math.min(2 * window, MAX_WINDOW);
          box.backoff.reset();
          continue;
        }
        window = 1;
        streak = 0;
        if (hits > 0) box.backoff.reset();
        if (await this.#departed(box)) break;
        if (!this.#wanted(box)) break;
        const wait = started + box.backoff.next() - performance.now();
        if (wait <= 0) continue;
        const nap = sleep(wait, signal);
        box.nap = nap;
        await nap.done;
        box.nap = undefined;
      }
    } catch (err) {
      // S3 failed (after the SDK's retries): receives from this source fail rather than wait forever.
      if (!signal.aborted) this.#o.matcher.failSource(box.source, err instanceof Error ? err : new Error(String(err)));
    } finally {
      // In the same step as the last check of #wanted: a wait() after it starts a new loop.
      box.loop = undefined;
      box.nap = undefined;
    }
  }

  /**
   * After a miss: true once the source is gone and this miss came after the
   * verdict (everything it wrote before is read, so its receives fail now);
   * otherwise asks whether it is gone (rate-limited), and if so the loop reads
   * once more at once.
   */
  async #departed(box: Inbox): Promise<boolean> {
    if (box.gone) {
      this.#o.lost.confirm(box.source, box.gone.how, box.gone.detail);
      return true;
    }
    const gone = await this.#o.liveness?.check(box.source, this.#o.signal);
    if (gone) {
      box.gone = gone;
      box.backoff.reset();
    }
    return false;
  }

  /** GETs `n` keys from the next one on and reads them in order, up to the first missing; returns how many it read. */
  async #round(box: Inbox, n: number): Promise<number> {
    const requests: Promise<GetObjectCommandOutput | undefined>[] = [];
    for (let i = 0; i < n; i++) requests.push(this.#get(this.#o.keys.message(this.#o.rank, box.source, box.nextSeq + i), box.source));
    let read = 0;
    try {
      for (; read < n; read++) {
        const res = await requests[read]!;
        if (!res) break;
        const key = this.#o.keys.message(this.#o.rank, box.source, box.nextSeq);
        await this.#consume(box.source, key, res);
        box.nextSeq++;
        // The receiver owns read messages: gone once read.
        this.#o.deletes.add(key);
      }
    } finally {
      // Keys after a missing one wait for the next round: drop what came for them.
      for (let i = read + 1; i < n; i++) requests[i]!.then(discard, () => {});
    }
    return read;
  }

  /** A GET of a message; undefined when it is not there yet. */
  async #get(key: string, source: number): Promise<GetObjectCommandOutput | undefined> {
    try {
      return await this.#o.client.send(new GetObjectCommand({ Bucket: this.#o.bucket, Key: key }), { abortSignal: this.#o.signal });
    } catch (err) {
      if (httpStatus(err) === 404) return undefined;
      if (this.#o.signal.aborted) throw this.#o.signal.reason;
      throw s3Error(err, `reading ${key}`, { rank: this.#o.rank, peer: source, op: 'recv' });
    }
  }

  /**
   * Streams a message's body into the Matcher: the payload goes straight
   * into the matched receive's buffer. A body cut short before its header
   * throws (the object stays, the next poll reads it again); after the
   * header, the receive it matched fails and the message counts as read.
   */
  async #consume(source: number, key: string, res: GetObjectCommandOutput): Promise<void> {
    const fields = { rank: this.#o.rank, peer: source, op: 'recv', channel: 's3' };
    const seal = this.#o.seal;
    const t = seal?.trailerBytes ?? 0;
    const total = res.ContentLength;
    if (total === undefined || total < HEADER_BYTES + t) throw new FmiError('FMI_PROTOCOL', `object ${key}: length ${total} cannot hold a message`, fields);
    const length = total - HEADER_BYTES - t;
    const body = res.Body as unknown as AsyncIterable<Uint8Array>;
    const head = new Uint8Array(HEADER_BYTES);
    // The opt-in check runs over each piece as it comes; the trailer is the body's last t bytes.
    const check = seal?.begin(key);
    const trailer = new Uint8Array(t);
    let trailerBytes = 0;
    let headBytes = 0;
    let arrival: Arrival | undefined;
    let offset = 0;
    try {
      for await (let chunk of body) {
        if (!arrival) {
          const take = Math.min(HEADER_BYTES - headBytes, chunk.byteLength);
          head.set(chunk.subarray(0, take), headBytes);
          headBytes += take;
          if (headBytes < HEADER_BYTES) continue;
          chunk = chunk.subarray(take);
          const h = readHeader(head, key);
          // A skip marker carries nothing to check or deliver.
          if (h.flags & FLAG_SKIP) return;
          check?.update(head);
          arrival = this.#o.matcher.arrive(source, h.ctx, h.tag, h.kind, length);
          checkTrailerFlags(h.flags, t, key);
        }
        const p = Math.min(chunk.byteLength, length - offset);
        if (chunk.byteLength - p > t - trailerBytes) throw new FmiError('FMI_PROTOCOL', `object ${key} is longer than its Content-Length`, fields);
        const piece = chunk.subarray(0, p);
        arrival.target().set(piece, offset);
        check?.update(piece);
        offset += p;
        if (p < chunk.byteLength) {
          trailer.set(chunk.subarray(p), trailerBytes);
          trailerBytes += chunk.byteLength - p;
        }
      }
      if (!arrival) throw new FmiError('FMI_PROTOCOL', `object ${key} ended inside its header`, fields);
      if (offset !== length || trailerBytes !== t) throw new FmiError('FMI_PROTOCOL', `object ${key} ended after ${offset} of ${length} payload bytes`, fields);
      if (check && !sameTrailer(check.end(), trailer)) throw corrupted(key, seal!, 's3', fields);
      arrival.complete();
    } catch (err) {
      if (!arrival) throw err;
      arrival.fail(err instanceof FmiError ? err : new ChannelError(`reading ${key}: ${(err as Error).message}`, { ...fields, cause: err }));
    }
  }
}

/** Lets go of a response nobody will read: small bodies drain (the connection stays usable), large ones are cut. */
function discard(res: GetObjectCommandOutput | undefined): void {
  const body = res?.Body as unknown as { resume?(): void; destroy?(): void } | undefined;
  if (!body) return;
  if ((res!.ContentLength ?? Infinity) <= 64 * 1024) body.resume?.();
  else body.destroy?.();
}
