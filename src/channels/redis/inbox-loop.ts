import type { Redis } from 'ioredis';
import type { FmiError } from '../../errors.js';
import { channelError, retryable, whenReady } from './client.js';
import type { InboxReader } from './inbox-reader.js';

/** Frames taken per read at most, and bytes (bounds the reply's memory). */
const MAX_BATCH = 64;
const BATCH_BYTES = 16 * 1024 * 1024;
/** Frames read but not acknowledged, at most (count, bytes): small frames are acknowledged in bulk. */
const UNACKED_FRAMES = 32;
const UNACKED_BYTES = 1024 * 1024;

/**
 * Acknowledges what the last round took, then moves up to ARGV[1] frames (or
 * ARGV[2] bytes) from the inbox to the processing list, and returns them.
 * The processing list keeps a placeholder first, so it exists, with a TTL,
 * before BLMOVE appends to it.
 */
const TAKE = `
redis.call('LTRIM', KEYS[2], 0, 0)
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('RPUSH', KEYS[2], '') end
redis.call('EXPIRE', KEYS[2], ARGV[3])
local out, bytes, most = {}, 0, tonumber(ARGV[2])
for i = 1, tonumber(ARGV[1]) do
  local x = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not x then break end
  out[i] = x
  bytes = bytes + #x
  if bytes >= most then break end
end
return out
`;

export interface InboxLoopOptions {
  /** The rank's blocking connection (nothing else uses it). */
  blk: Redis;
  inbox: string;
  processing: string;
  ttlSeconds: number;
  rank: number;
  reader: InboxReader;
  /** True once the channel closes or failed: the loop ends. */
  stopped(): boolean;
  /** The error for a connection ioredis gave up on. */
  lost(): FmiError;
  fail(err: FmiError): void;
}

/**
 * The rank's one inbox read loop: a reliable queue. Frames are moved, never
 * popped, from the inbox to the processing list, and acknowledged (trimmed
 * away) only in the next round, after they went to the reader. A round is,
 * written in one go:
 * - while nothing waits (the usual case): LLEN of the inbox and a BLMOVE
 *   that waits for the next frame; before them an LTRIM that acknowledges
 *   once 32 frames or 1 MiB are unacknowledged (so a waiting rank leaves at
 *   most that, and one frame, in the processing list);
 * - while frames wait (LLEN said so): the TAKE script, which acknowledges
 *   and moves a batch (up to 64 frames or 16 MiB) in one round trip.
 * When the connection drops, a reply may be lost but its frames are in the
 * processing list: after the reconnect they are read again (LRANGE) and the
 * reader drops those it had (sequence numbers), so no frame is lost or
 * delivered twice.
 */
export async function readInbox(o: InboxLoopOptions): Promise<void> {
  const { blk, inbox, processing, reader } = o;
  const take = [TAKE, '2', inbox, processing, String(MAX_BATCH), String(BATCH_BYTES), String(o.ttlSeconds)];
  const wait = [inbox, processing, 'LEFT', 'RIGHT', '0'];
  const refreshMs = (o.ttlSeconds * 1000) / 3;
  // The first round takes: it makes the processing list (placeholder and TTL).
  let backlog = true;
  let refreshAt = 0;
  let recover = false;
  let unacked = 0;
  let unackedBytes = 0;
  while (!o.stopped()) {
    try {
      if (recover) {
        for (const f of (await blk.lrangeBuffer(processing, 1, -1)) as Buffer[]) reader.frame(f);
        recover = false;
        backlog = true;
      }
      if (backlog) {
        const frames = (await blk.callBuffer('EVAL', take)) as Buffer[];
        for (const f of frames) reader.frame(f);
        backlog = frames.length > 0;
        refreshAt = Date.now() + refreshMs;
        unacked = frames.length;
        unackedBytes = frames.reduce((n, f) => n + f.length, 0);
        continue;
      }
      blk.stream?.cork();
      if (unacked >= UNACKED_FRAMES || unackedBytes >= UNACKED_BYTES) {
        blk.call('LTRIM', [processing, '0', '0']).catch(() => {}); // its failure shows in the BLMOVE's
        unacked = unackedBytes = 0;
      }
      if (Date.now() >= refreshAt) {
        blk.call('EXPIRE', [processing, String(o.ttlSeconds)]).catch(() => {});
        refreshAt = Date.now() + refreshMs;
      }
      const waiting = blk.llen(inbox);
      const next = blk.callBuffer('BLMOVE', wait) as Promise<Buffer>;
      blk.stream?.uncork();
      next.catch(() => {}); // awaited below, unless LLEN failed first
      // More than the one BLMOVE takes: the next round takes a batch.
      backlog = (await waiting) > 1;
      const f = await next;
      unacked++;
      unackedBytes += f.length;
      reader.frame(f);
    } catch (err) {
      if (o.stopped()) return;
      if (!retryable(err) || blk.status === 'end') return o.fail(channelError(err, 'inbox read failed', { rank: o.rank, channel: 'redis', op: 'recv' }));
      try {
        await whenReady(blk, o.lost);
      } catch (e) {
        if (!o.stopped()) o.fail(e as FmiError);
        return;
      }
      recover = true;
    }
  }
}
