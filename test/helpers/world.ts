import { randomUUID } from 'node:crypto';
import { init, RendezvousServer, type Communicator, type InitOptions } from '../../src/index.js';

/**
 * Runs `fn` on every rank of a job of `size` ranks inside this process: real
 * TCP connections over loopback, a real rendezvous server. Resolves to each
 * rank's result, indexed by rank.
 */
export async function withWorld<T>(
  size: number,
  fn: (comm: Communicator) => Promise<T>,
  opts: Partial<InitOptions> = {},
): Promise<T[]> {
  const server = new RendezvousServer();
  const addr = await server.listen();
  const job = randomUUID();
  const comms = await Promise.all(
    Array.from({ length: size }, (_, rank) => init({ rank, size, job, rendezvous: addr, env: {}, ...opts })),
  );
  try {
    return await Promise.all(comms.map((c) => fn(c)));
  } finally {
    await Promise.all(comms.map((c) => c.close()));
    await server.close();
  }
}

/** Like withWorld, but returns each rank's outcome instead of failing on the first error. */
export async function settleWorld<T>(
  size: number,
  fn: (comm: Communicator) => Promise<T>,
  opts: Partial<InitOptions> = {},
): Promise<PromiseSettledResult<T>[]> {
  let out: PromiseSettledResult<T>[] = [];
  await withWorld(size, async (c) => {
    const r = await Promise.allSettled([fn(c)]);
    return r[0]!;
  }, opts).then((r) => (out = r));
  return out;
}

export const SIZES = [1, 2, 3, 4, 5, 8] as const;

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
