import type { Envelope } from '../channel.js';
import type { Placement } from './bulk.js';

/**
 * A message in a ring: this header, then the payload, or for a large
 * message only the header, saying where in the pair's staging area
 * (bulk.ts) its payload is, and where that area is. The source is the ring's writer; ranks of one
 * process share endianness, so the words are native. The length takes two
 * words: a message may exceed 4 GiB.
 */
export const HEADER_BYTES = 32;

export class FrameHeader {
  readonly bytes = new Uint8Array(HEADER_BYTES);
  readonly #i32 = new Int32Array(this.bytes.buffer);
  readonly #u32 = new Uint32Array(this.bytes.buffer);

  /** `bulk`: where the payload is in the staging area (else it follows in the ring). */
  encode(env: Envelope, length: number, bulk?: Placement): Uint8Array {
    this.#i32[0] = env.ctx;
    this.#i32[1] = env.tag;
    this.#i32[2] = env.kind;
    this.#u32[3] = length >>> 0;
    this.#u32[4] = Math.floor(length / 0x1_0000_0000);
    this.#u32[5] = bulk === undefined ? 0 : bulk.log2;
    this.#u32[6] = bulk === undefined ? 0 : bulk.start;
    this.#i32[7] = bulk === undefined ? 0 : bulk.at;
    return this.bytes;
  }

  /** Where the payload is in the staging area; undefined when it follows in the ring. */
  get bulk(): Placement | undefined {
    const log2 = this.#u32[5]!;
    return log2 === 0 ? undefined : { log2, start: this.#u32[6]!, at: this.#i32[7]! };
  }

  get ctx(): number {
    return this.#i32[0]!;
  }

  get tag(): number {
    return this.#i32[1]!;
  }

  get kind(): number {
    return this.#i32[2]!;
  }

  get length(): number {
    return this.#u32[3]! + this.#u32[4]! * 0x1_0000_0000;
  }
}
