import { HEADER_BYTES, trailerFlags, writeHeader } from './wire.js';
import type { Seal } from '../direct/integrity.js';

/** Below this an object body comes from Node's shared allocation pool, which costs nothing to reuse. */
const POOLED_FROM = 64 * 1024;
const GRAIN = 1024 * 1024;
const MAX_SPARES = 4;

/**
 * Bodies of large objects (header + payload), reused from one PUT to the
 * next: freshly touched memory costs ~3 ms per MiB on these machines, as much
 * as a third of a 1 MiB PUT to a nearby server. A body goes back only once its
 * request has finished; one whose request was abandoned is dropped, as the
 * socket might still be reading it.
 */
export class SendBuffers {
  #spares: Uint8Array[] = [];

  /** A body with the header written and `payload` copied after it; with `seal`, the trailer of object `key` after that. */
  frame(kind: number, flags: number, ctx: number, tag: number, payload: Uint8Array, seal?: Seal, key = ''): Uint8Array {
    const n = HEADER_BYTES + payload.byteLength;
    const all = n + (seal?.trailerBytes ?? 0);
    const body = all < POOLED_FROM ? Buffer.allocUnsafe(all) : this.#take(all);
    writeHeader(body, kind, flags | trailerFlags(seal?.trailerBytes ?? 0), ctx, tag);
    body.set(payload, HEADER_BYTES);
    if (seal) {
      const c = seal.begin(key);
      c.update(body.subarray(0, n));
      body.set(c.end(), n);
    }
    return body;
  }

  /** Hands a body back after its request finished. */
  release(body: Uint8Array): void {
    if (body.byteLength < POOLED_FROM) return;
    const whole = new Uint8Array(body.buffer, 0, body.buffer.byteLength);
    this.#spares.push(whole);
    if (this.#spares.length > MAX_SPARES) {
      this.#spares.sort((a, b) => b.byteLength - a.byteLength);
      this.#spares.length = MAX_SPARES;
    }
  }

  #take(n: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.#spares.length; i++) {
      const len = this.#spares[i]!.byteLength;
      if (len >= n && (best < 0 || len < this.#spares[best]!.byteLength)) best = i;
    }
    if (best >= 0) return this.#spares.splice(best, 1)[0]!.subarray(0, n);
    return new Uint8Array(Math.ceil(n / GRAIN) * GRAIN).subarray(0, n);
  }
}
