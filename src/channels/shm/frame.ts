import type { Envelope } from '../channel.js';

/**
 * A message in a ring: this header, then the payload. The source is the
 * ring's writer; ranks of one process share endianness, so the words are
 * native. The length takes two words: a message may exceed 4 GiB.
 */
export const HEADER_BYTES = 20;

export class FrameHeader {
  readonly bytes = new Uint8Array(HEADER_BYTES);
  readonly #i32 = new Int32Array(this.bytes.buffer);
  readonly #u32 = new Uint32Array(this.bytes.buffer);

  encode(env: Envelope, length: number): Uint8Array {
    this.#i32[0] = env.ctx;
    this.#i32[1] = env.tag;
    this.#i32[2] = env.kind;
    this.#u32[3] = length >>> 0;
    this.#u32[4] = Math.floor(length / 0x1_0000_0000);
    return this.bytes;
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
