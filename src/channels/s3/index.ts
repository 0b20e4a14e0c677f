import type { ChannelFactory } from '../channel.js';
import { S3Channel, type S3ChannelOptions } from './s3-channel.js';

export { S3Channel, type S3ChannelOptions } from './s3-channel.js';
export { cleanJob, type CleanJobOptions } from './clean.js';
export type { S3Location, S3RequestCounts } from './client.js';
export { DEFAULT_POLL, type PollPolicy } from './backoff.js';

/** A factory of S3 channels: bucket, endpoint and tuning here; job, rank and size from the launcher or test. */
export function s3Channel(opts: Omit<S3ChannelOptions, 'job' | 'rank' | 'size'>): ChannelFactory {
  return (o) => S3Channel.create({ ...opts, ...o });
}
