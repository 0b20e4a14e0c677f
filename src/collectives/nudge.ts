import { Kind } from '../codec.js';

/**
 * Deadlock breaking for mismatched collectives. Where every rank of a
 * mismatched call waits to receive (gather at one rank, scatter at the
 * others), no message carries a signature to compare, and without a timeout
 * they would wait for ever. So a collective call whose receives still wait
 * at the communicator's next watch tick (after NUDGE_MS to 2·NUDGE_MS, see
 * CollWatch) sends the peers they wait on one small "nudge": its signature as the
 * tag and the call's full number as the payload. A peer that is itself
 * waiting on this rank in the same call, under another signature, fails with
 * FMI_MISMATCH (and tells every rank); any other receiver drops it. In a
 * matched call nothing is sent unless a receive waits that long, and then
 * one 4-byte message per stalled receive.
 */
export const NUDGE_KIND = Kind.NUDGE;
export const NUDGE_MS = 500;

export function nudgePayload(seq: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, seq >>> 0, true);
  return out;
}

/** Whether a nudge whose payload is `data` is of collective call number `seq` (unknown payloads are not). */
export function nudgeOfCall(data: Uint8Array, seq: number): boolean {
  return data.byteLength === 4 && new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true) === seq >>> 0;
}
