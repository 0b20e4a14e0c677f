import { Kind, type Encoded } from '../codec.js';
import { FmiError } from '../errors.js';
import type { Received } from '../channels/channel.js';
import type { CollContext } from './context.js';
import { unfilledBytes } from '../util/fresh.js';

/**
 * Payloads from this size on are cut into segments and pipelined down the
 * tree: a rank forwards each segment as soon as it has it, so the tree's
 * levels move data at the same time instead of one after another. Measured
 * on 4 ranks on the 2-vCPU VM (bench/bcast.mjs, quiet machine), where every
 * extra message costs CPU the ranks share: whole messages were faster at
 * 1 MiB (1.8-2.1 ms against 2.2-3.2), 4 MiB (6.2-7.8 against 14.1-14.8) and
 * 8 MiB (25 against 42), segments at 16 MiB (34 against 66).
 */
export const PIPELINE_MIN_BYTES = 16 * 1024 * 1024;
/**
 * The threshold in use (PIPELINE_MIN_BYTES unless changed): read by the root
 * of each broadcast, the only rank that decides. Tests lower it to run the
 * segmented path on small payloads.
 */
export const pipelining = { minBytes: PIPELINE_MIN_BYTES };
/**
 * Segment size: large enough that the per-message cost stays small next to
 * the copy. On the 2-vCPU test VM a message costs tens of µs of CPU, as much
 * as copying 128 KiB: 128 KiB segments doubled a 1 MiB bcast's CPU per rank,
 * 512 KiB ones cost about what the whole message did.
 */
export const SEGMENT_BYTES = 512 * 1024;

/**
 * The first message of a segmented broadcast: a 16-byte header instead of
 * the payload (receivers do not know the size, only the root does). Not a
 * codec Kind: never decoded, never seen outside the broadcast.
 */
export const SEGMENTED_KIND = Kind.SEGMENTED;
const HEADER_BYTES = 16;

/** The root's first message of a segmented broadcast. */
export function segmentedHeader(msg: Encoded, segmentBytes = SEGMENT_BYTES): Encoded {
  const h = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(h.buffer);
  const n = msg.bytes.byteLength;
  dv.setUint32(0, msg.kind, true);
  dv.setUint32(4, segmentBytes, true);
  dv.setUint32(8, n >>> 0, true);
  dv.setUint32(12, Math.floor(n / 0x1_0000_0000), true);
  return { kind: SEGMENTED_KIND, bytes: h };
}

/** A caller's result buffer and the kind of payload it takes (bcast's `into`). */
export interface BcastInto {
  kind: number;
  bytes: Uint8Array;
}

/** Whether `into` takes a payload of this kind and length. */
export const intoFits = (into: BcastInto | undefined, kind: number, length: number): boolean => into !== undefined && kind === into.kind && length === into.bytes.byteLength;

/**
 * After the header: every rank receives each segment straight into its place
 * in the result (all receives posted up front, so none waits in the
 * unexpected queue) and sends it on to its children while the next one
 * arrives. `parent` is -1 at the root, which sends from `msg`.
 */
export async function bcastSegments(
  c: CollContext,
  parent: number,
  children: readonly number[],
  head: Encoded,
  msg: Encoded | undefined,
  into?: BcastInto,
): Promise<Encoded> {
  if (head.bytes.byteLength !== HEADER_BYTES) throw new FmiError('FMI_PROTOCOL', 'malformed bcast header', c.fields(parent));
  const dv = new DataView(head.bytes.buffer, head.bytes.byteOffset, HEADER_BYTES);
  const kind = dv.getUint32(0, true);
  const seg = dv.getUint32(4, true);
  const total = dv.getUint32(8, true) + dv.getUint32(12, true) * 0x1_0000_0000;
  if (seg === 0) throw new FmiError('FMI_PROTOCOL', 'malformed bcast header', c.fields(parent));
  const sends: Promise<void>[] = children.map((child) => c.send(child, head));
  // The root sends from the caller's bytes; the others receive into the caller's buffer or a new one
  // (not zero-filled: every segment lands in it before it is returned).
  const out = msg?.bytes ?? (intoFits(into, kind, total) ? into!.bytes : unfilledBytes(total));
  const count = Math.ceil(total / seg);
  const part = (i: number) => out.subarray(i * seg, Math.min(total, (i + 1) * seg));
  const receives: Promise<Received>[] = [];
  if (parent >= 0) {
    for (let i = 0; i < count; i++) {
      const p = c.recv(parent, part(i), part(i).byteLength);
      p.catch(() => {}); // awaited in order below
      receives.push(p);
    }
  }
  try {
    for (let i = 0; i < count; i++) {
      if (parent >= 0) {
        const r = await receives[i]!;
        if (r.kind !== kind || r.data.byteLength !== part(i).byteLength) throw new FmiError('FMI_PROTOCOL', `bcast segment ${i} arrived as kind ${r.kind}, ${r.data.byteLength} bytes`, c.fields(parent));
      }
      const bytes = part(i);
      for (const child of children) {
        const s = c.send(child, { kind, bytes });
        s.catch(() => {}); // awaited below
        sends.push(s);
      }
    }
    await Promise.all(sends);
  } catch (err) {
    // Receives still posted would take the parent's later messages on this tag:
    // the parent sends every segment (or fails), so they settle.
    await Promise.allSettled([...receives, ...sends]);
    throw err;
  }
  return { kind, bytes: out };
}
