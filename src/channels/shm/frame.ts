import type { Envelope } from '../channel.js';
import type { Placement } from './bulk.js';

/** Word 5 of a lent message's header (no staging area is 2^LENT bytes). */
const LENT = 0xffffffff;

/** Where a lent payload is (in-place.ts): a byte offset in the node memory, and the message's ack bit. */
export interface Lent {
  addr: number;
  id: number;
}

/**
 * A message in a ring: this header, then the payload, or for a large
 * message only the header, saying where in the pair's staging area
 * (bulk.ts) its payload is, and where that area is, or where in the node
 * memory the writer's own array is (a lent payload, in-place.ts). The source is the ring's writer; ranks of one
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

  /** A lent payload: `length` bytes at `lent.addr` in the node memory. */
  encodeLent(env: Envelope, length: number, lent: Lent): Uint8Array {
    this.encode(env, length);
    this.#u32[5] = LENT;
    this.#u32[6] = lent.addr;
    this.#i32[7] = lent.id;
    return this.bytes;
  }

  /** Where a lent payload is; undefined for any other message. */
  get lent(): Lent | undefined {
    return this.#u32[5] === LENT ? { addr: this.#u32[6]!, id: this.#i32[7]! } : undefined;
  }

  /** Where the payload is in the staging area; undefined when it follows in the ring. */
  get bulk(): Placement | undefined {
    const log2 = this.#u32[5]!;
    return log2 === 0 || log2 === LENT ? undefined : { log2, start: this.#u32[6]!, at: this.#i32[7]! };
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
