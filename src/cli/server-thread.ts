import { existsSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Endpoint } from '../rendezvous/protocol.js';
import { RendezvousServer, type RendezvousServerOptions } from '../rendezvous/server.js';

/** This file, run as the server's thread: built beside this one; run from the TypeScript sources (tests), the built one in dist/. */
const BESIDE = new URL('./server-thread.js', import.meta.url);
const SELF = existsSync(BESIDE) ? BESIDE : new URL('../../dist/cli/server-thread.js', import.meta.url);

export interface ServerThread {
  address: Endpoint;
  close(): Promise<void>;
}

/**
 * `fmi run`'s rendezvous server, in a thread of its own. The launcher's
 * thread blocks in each spawn() until the child has exec'd (on 2 busy cores,
 * 0.7-1.7 s each for 64 ranks: 53 s in all), and a server on that thread left
 * the ranks already started unanswered for 30 s and more: their registrations
 * and pairings timed out while the rest were being spawned.
 */
export function startServerThread(opts: RendezvousServerOptions): Promise<ServerThread> {
  const w = new Worker(SELF, { workerData: { ...opts, fmiServerThread: true } });
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('message', (address: Endpoint) => {
      w.off('error', reject);
      const exited = new Promise<void>((done) => w.once('exit', () => done()));
      resolve({
        address,
        close: () => {
          w.postMessage('close');
          return exited;
        },
      });
    });
  });
}

if (!isMainThread && parentPort && (workerData as { fmiServerThread?: boolean } | undefined)?.fmiServerThread) {
  const port = parentPort;
  const { fmiServerThread: _, ...opts } = workerData as RendezvousServerOptions & { fmiServerThread: boolean };
  const server = new RendezvousServer(opts);
  port.postMessage(await server.listen());
  port.once('message', () => void server.close().then(() => port.close()));
}
