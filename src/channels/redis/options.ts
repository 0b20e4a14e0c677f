import type { RedisAddress } from './client.js';
import type { IntegrityOptions } from '../direct/integrity.js';

export interface RedisChannelOptions extends RedisAddress, IntegrityOptions {
  job: string;
  rank: number;
  size: number;
  /**
   * Lifetime of every key the channel writes, refreshed on each write. What a
   * crashed rank leaves behind is gone after this long; a message must be read
   * within it. @default 3600
   */
  ttlSeconds?: number;
  /** Payloads above this are split into frames of this size (Redis caps a value at 512 MB). @default 4 MiB */
  chunkBytes?: number;
  /** Give up connecting to the server, and on cleanup at close(), after this long. @default 10000 */
  timeoutMs?: number;
  /**
   * Lifetime of the rank's heartbeat key, renewed every third of it from a
   * worker thread. A rank whose key expired is dead: receives from it fail
   * with FMI_PEER_LOST about 1 to 1.5 times this after it died. 0 turns
   * liveness off (no heartbeat, receives from a dead rank wait for their
   * timeout). @default 3000
   */
  aliveMs?: number;
  /**
   * A lost connection to the server is reconnected for this long (a server
   * restart, a failover); then everything fails with FMI_CHANNEL. 0: never
   * reconnect. Nothing is delivered twice or lost on the way (see the
   * README); a server that lost the job's data meanwhile fails the channel
   * with FMI_CHANNEL. @default 10000
   */
  reconnectMs?: number;
}
