import type { Encoded } from '../codec.js';
import { FmiError } from '../errors.js';

/**
 * Several ranks' items in one message, for gather and scatter trees:
 *   u32 count, u32 0, then per item: u32 rank, u32 kind, u32 length lo, u32 length hi,
 *   then the payloads, each starting on an 8-byte boundary so TypedArray views
 *   need no copy.
 */
export interface Item extends Encoded {
  rank: number;
}

const pad8 = (n: number) => (n + 7) & ~7;

export function packBundle(items: readonly Item[]): Uint8Array {
  let total = pad8(8 + 16 * items.length);
  for (const it of items) total += pad8(it.bytes.byteLength);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, items.length, true);
  let off = pad8(8 + 16 * items.length);
  items.forEach((it, i) => {
    const h = 8 + 16 * i;
    const len = it.bytes.byteLength;
    dv.setUint32(h, it.rank, true);
    dv.setUint32(h + 4, it.kind, true);
    dv.setUint32(h + 8, len >>> 0, true);
    dv.setUint32(h + 12, Math.floor(len / 0x1_0000_0000), true);
    out.set(it.bytes, off);
    off += pad8(len);
  });
  return out;
}

export function unpackBundle(buf: Uint8Array): Item[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const fail = () => new FmiError('FMI_PROTOCOL', 'malformed bundle');
  if (buf.byteLength < 8) throw fail();
  const n = dv.getUint32(0, true);
  if (8 + 16 * n > buf.byteLength) throw fail();
  let off = pad8(8 + 16 * n);
  const items: Item[] = [];
  for (let i = 0; i < n; i++) {
    const h = 8 + 16 * i;
    const len = dv.getUint32(h + 8, true) + dv.getUint32(h + 12, true) * 0x1_0000_0000;
    if (off + len > buf.byteLength) throw fail();
    items.push({ rank: dv.getUint32(h, true), kind: dv.getUint32(h + 4, true), bytes: buf.subarray(off, off + len) });
    off += pad8(len);
  }
  return items;
}
