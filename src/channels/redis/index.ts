import type { ChannelFactory } from '../channel.js';
import { RedisChannel, type RedisChannelOptions } from './redis-channel.js';

export { RedisChannel, type RedisChannelOptions } from './redis-channel.js';
export type { RedisAddress } from './client.js';
export { jobPattern, jobPrefix } from './keys.js';

/** A factory of Redis channels: the server and tuning here, job/rank/size from the launcher or test. */
export function redisChannel(opts: Omit<RedisChannelOptions, 'job' | 'rank' | 'size'>): ChannelFactory {
  return (o) => RedisChannel.create({ ...opts, ...o });
}
