import { DeleteObjectCommand, DeleteObjectsCommand, type S3Client } from '@aws-sdk/client-s3';

/** Keys gathered this long before one request deletes them all. */
const DELAY_MS = 20;
const MAX_BATCH = 1000;

/**
 * Deletes read messages in the background, a batch per request: a burst of
 * N messages costs one DeleteObjects instead of N DELETEs, and a lone
 * message still one plain DELETE. Nothing waits on these: a failed delete
 * leaves the object to close()'s sweep of the inbox.
 */
export class DeleteQueue {
  readonly #client: S3Client;
  readonly #bucket: string;
  #keys: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #inflight = new Set<Promise<void>>();

  constructor(client: S3Client, bucket: string) {
    this.#client = client;
    this.#bucket = bucket;
  }

  add(key: string): void {
    this.#keys.push(key);
    if (this.#keys.length >= MAX_BATCH) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), DELAY_MS);
  }

  /** Sends what is queued and waits for every delete in flight. */
  async drain(): Promise<void> {
    this.#flush();
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#keys.length === 0) return;
    const keys = this.#keys;
    this.#keys = [];
    const p = this.#delete(keys);
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #delete(keys: string[]): Promise<void> {
    try {
      if (keys.length === 1) await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: keys[0] }));
      else await this.#client.send(new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
    } catch {
      // Left for close() to sweep.
    }
  }
}
