import type { ChannelFactory } from '../channel.js';
import type { RedisChannel as RedisChannelImpl, RedisChannelOptions } from './redis-channel.js';

export type { RedisChannelOptions } from './redis-channel.js';
export type { RedisAddress } from './client.js';
export { jobPattern, jobPrefix } from './keys.js';

// The channel's modules load on first use (and ioredis, ~80 ms, only when a
// client connects): importing fmi costs nothing for a job that never opens Redis.

/** A Redis channel of one rank (the class lives in redis-channel.ts). */
export type RedisChannel = RedisChannelImpl;

/** Opens Redis channels; the channel's modules and ioredis load on the first `create`. */
export const RedisChannel = {
  /** Connects to the server (two connections: commands, and the inbox's blocking reads). */
  async create(o: RedisChannelOptions): Promise<RedisChannel> {
    const { RedisChannel: Impl } = await import('./redis-channel.js');
    return Impl.create(o);
  },
} as const;

/** A factory of Redis channels: the server and tuning here, job/rank/size from the launcher or test. */
export function redisChannel(opts: Omit<RedisChannelOptions, 'job' | 'rank' | 'size'>): ChannelFactory {
  return (o) => RedisChannel.create({ ...opts, ...o });
}
