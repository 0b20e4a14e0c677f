import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ChannelError, FmiError, type FmiErrorFields } from '../../errors.js';

/** Where the objects live and how to reach them. */
export interface S3Location {
  /** An existing bucket; fmi never creates one. */
  bucket: string;
  /** An S3-compatible endpoint (Ceph RGW, MinIO...), addressed path-style. @default AWS S3 */
  endpoint?: string;
  /** @default the SDK's region chain (AWS_REGION, profile); 'us-east-1' with an `endpoint` */
  region?: string;
  /** @default the SDK's credential chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles) */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Key prefix of every object, before the job id. @default 'fmi/' */
  prefix?: string;
  /** Longest time one S3 request may take; it then fails with FMI_CHANNEL. @default 30000 */
  timeoutMs?: number;
}

/**
 * Requests S3 answered, by type: what the cost model prices. A batch delete
 * (DeleteObjects, up to 1000 keys) counts as one `delete`; `miss` is a GET of
 * an object that does not exist yet (404), billed like any GET. Retries the
 * SDK makes count each time; requests that got no answer do not count.
 */
export interface S3RequestCounts {
  put: number;
  get: number;
  miss: number;
  delete: number;
  list: number;
  head: number;
  total: number;
}

export function zeroCounts(): S3RequestCounts {
  return { put: 0, get: 0, miss: 0, delete: 0, list: 0, head: 0, total: 0 };
}

export const DEFAULT_PREFIX = 'fmi/';
export const DEFAULT_TIMEOUT_MS = 30_000;

interface RawRequest {
  method?: string;
  query?: Record<string, unknown>;
}

type Counted = Exclude<keyof S3RequestCounts, 'total' | 'miss'>;

function classify(r: RawRequest): Counted {
  switch (r.method) {
    case 'PUT':
      return 'put';
    case 'HEAD':
      return 'head';
    case 'DELETE':
    case 'POST': // DeleteObjects is the only POST the channel sends
      return 'delete';
    default:
      return r.query && 'list-type' in r.query ? 'list' : 'get';
  }
}

/** The HTTP status of an SDK error, if S3 answered at all. */
export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * An S3 client set up the way S3-compatible servers need it (path-style
 * addressing, checksums only where the API requires them: RGW rejects the
 * SDK's default CRC headers on some calls), counting every request into
 * `counts`.
 */
export function makeClient(o: S3Location, counts: S3RequestCounts): S3Client {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new S3Client({
    endpoint: o.endpoint,
    region: o.region ?? (o.endpoint ? 'us-east-1' : undefined),
    credentials: o.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { requestTimeout: timeoutMs, connectionTimeout: Math.min(timeoutMs, 10_000), throwOnRequestTimeout: true },
  });
  // Inside the retry loop, so every attempt that got an answer counts.
  const counter = (next: (a: { request: RawRequest }) => Promise<unknown>) => async (args: { request: RawRequest }) => {
    const type = classify(args.request);
    try {
      const out = await next(args);
      counts[type]++;
      counts.total++;
      return out;
    } catch (err) {
      const status = httpStatus(err);
      if (status !== undefined) {
        counts[type === 'get' && status === 404 ? 'miss' : type]++;
        counts.total++;
      }
      throw err;
    }
  };
  // The SDK's middleware types live in a package fmi does not depend on directly.
  client.middlewareStack.add(counter as never, { step: 'finalizeRequest', priority: 'low', name: 'fmiRequestCounter' });
  return client;
}

/** Fails with FMI_CONFIG when the bucket is missing or not ours to use: fmi never creates it. */
export async function checkBucket(client: S3Client, o: S3Location, fields: FmiErrorFields): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: o.bucket }));
  } catch (err) {
    const status = httpStatus(err);
    const where = `bucket "${o.bucket}"${o.endpoint ? ` at ${o.endpoint}` : ''}`;
    if (status === 404) throw new FmiError('FMI_CONFIG', `${where} does not exist; fmi does not create buckets: create it first`, { ...fields, cause: err });
    if (status === 403 || status === 401) throw new FmiError('FMI_CONFIG', `${where}: access denied (check the credentials)`, { ...fields, cause: err });
    if (status === 400 || status === 301) throw new FmiError('FMI_CONFIG', `${where}: rejected with HTTP ${status} (check the bucket name and region)`, { ...fields, cause: err });
    const name = (err as Error | undefined)?.name ?? '';
    if (/Credential|Region/i.test(name) || /credential|region is missing/i.test((err as Error)?.message ?? '')) {
      throw new FmiError('FMI_CONFIG', `${where}: ${(err as Error).message}`, { ...fields, cause: err });
    }
    throw s3Error(err, `${where} unreachable`, fields);
  }
}

/** An SDK failure as an FmiError (FMI_CHANNEL), with S3's status in the message. */
export function s3Error(err: unknown, what: string, fields: FmiErrorFields): FmiError {
  if (err instanceof FmiError) return err;
  const status = httpStatus(err);
  const e = err as Error | undefined;
  const detail = status !== undefined ? `HTTP ${status} ${e?.name ?? ''}` : `${e?.name ?? 'error'}: ${e?.message ?? String(err)}`;
  return new ChannelError(`${what}: ${detail.trim()}`, { channel: 's3', ...fields, cause: err });
}
