import type { ChannelFactory } from '../channel.js';
import type { S3Channel as S3ChannelImpl, S3ChannelOptions } from './s3-channel.js';
import type { CleanJobOptions } from './clean.js';

export type { S3ChannelOptions } from './s3-channel.js';
export type { CleanJobOptions } from './clean.js';
export type { S3Location, S3RequestCounts } from './client.js';
export { DEFAULT_POLL, type PollPolicy } from './backoff.js';

// The AWS SDK takes ~200 ms to load, so the channel's modules (which import it)
// load on first use: importing fmi costs nothing for a job that never opens S3.

/** An S3 channel of one rank (the class lives in s3-channel.ts). */
export type S3Channel = S3ChannelImpl;

/** Opens S3 channels; the AWS SDK loads on the first `create`. */
export const S3Channel = {
  /** Checks the options and that the bucket exists (one HEAD request); never creates the bucket. */
  async create(o: S3ChannelOptions): Promise<S3Channel> {
    const { S3Channel: Impl } = await import('./s3-channel.js');
    return Impl.create(o);
  },
} as const;

/**
 * What `fmi clean --job ID` does: deletes every object of a job (messages
 * nobody read, values of ranks that crashed before closing). Safe while no
 * rank of the job runs. Returns the number of objects deleted.
 */
export async function cleanJob(o: CleanJobOptions): Promise<number> {
  const clean = await import('./clean.js');
  return clean.cleanJob(o);
}

/** A factory of S3 channels: bucket, endpoint and tuning here; job, rank and size from the launcher or test. */
export function s3Channel(opts: Omit<S3ChannelOptions, 'job' | 'rank' | 'size'>): ChannelFactory {
  return (o) => S3Channel.create({ ...opts, ...o });
}
