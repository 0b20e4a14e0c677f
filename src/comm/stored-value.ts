/** Bytes of signature before a stored collective value. */
export const SIG_BYTES = 8;

/** A collective's value on a storage channel: the writer's signature and rank (8 bytes, so the payload stays aligned), then the payload. */
export function signedValue(tag: number, rank: number, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIG_BYTES + bytes.byteLength);
  const head = new DataView(out.buffer);
  head.setUint32(0, tag, true);
  head.setUint32(4, rank, true);
  out.set(bytes, SIG_BYTES);
  return out;
}
