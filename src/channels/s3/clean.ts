import { DeleteObjectsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ChannelError } from '../../errors.js';
import { DEFAULT_PREFIX, makeClient, s3Error, zeroCounts, type S3Location } from './client.js';
import { checkJob, Keys } from './wire.js';

/** DeleteObjects takes at most this many keys per request. */
const BATCH = 1000;

/** Deletes `keys` in batches; returns how many were deleted. */
export async function deleteKeys(client: S3Client, bucket: string, keys: readonly string[], signal?: AbortSignal): Promise<number> {
  let n = 0;
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = keys.slice(i, i + BATCH);
    let out;
    try {
      out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: signal });
    } catch (err) {
      throw s3Error(err, `deleting ${batch.length} objects`, { op: 'delete' });
    }
    const failed = out.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0]!;
      throw new ChannelError(`${failed.length} of ${batch.length} objects not deleted, first ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim(), { channel: 's3', op: 'delete' });
    }
    n += batch.length;
  }
  return n;
}

/** Every key under `prefix`, page by page (one LIST per 1000 keys). */
export async function* listKeys(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): AsyncGenerator<string[]> {
  let token: string | undefined;
  do {
    let page;
    try {
      page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
    } catch (err) {
      throw s3Error(err, `listing ${prefix}`, { op: 'list' });
    }
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
    if (keys.length > 0) yield keys;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Deletes every object under `prefix`; returns the count. */
export async function deletePrefix(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<number> {
  let n = 0;
  for await (const keys of listKeys(client, bucket, prefix, signal)) n += await deleteKeys(client, bucket, keys, signal);
  return n;
}

export interface CleanJobOptions extends S3Location {
  job: string;
}

/**
 * What `fmi clean --job ID` does: deletes every object of a job (messages
 * nobody read, values of ranks that crashed before closing). Safe while no
 * rank of the job runs. Returns the number of objects deleted. Costs one
 * LIST and one batch DELETE per 1000 objects.
 */
export async function cleanJob(o: CleanJobOptions): Promise<number> {
  checkJob(o.job);
  const client = makeClient(o, zeroCounts());
  try {
    return await deletePrefix(client, o.bucket, new Keys(o.prefix ?? DEFAULT_PREFIX, o.job).job);
  } finally {
    client.destroy();
  }
}
