import { ANY_SOURCE, type Channel, type Envelope, type Probed, type ProbeRequest, type Received, type RecvRequest } from '../channel.js';
import type { ShmChannel } from './shm-channel.js';

/**
 * A job whose ranks are threads of several processes: shared memory to the
 * ranks of this process, `remote` (direct TCP) to the others. Both channels
 * must deliver into one Matcher (ShmChannelOptions.matcher and
 * DirectChannelOptions.matcher), and the direct one must leave the local
 * ranks alone (DirectChannelOptions.carriedElsewhere: the server reporting
 * a local rank gone must not fail receives its ring still answers). Then a
 * message from either matches the
 * earliest posted receive that fits, wildcard or not, exactly as MPI orders
 * them, and a receive from any source is one receive posted there. A send,
 * or a receive from one source, goes to the channel that reaches its peer.
 */
export class HybridChannel implements Channel {
  readonly name: string;
  readonly rank: number;
  readonly size: number;
  readonly #local: ShmChannel;
  readonly #remote: Channel;

  constructor(local: ShmChannel, remote: Channel) {
    this.#local = local;
    this.#remote = remote;
    this.name = remote.name;
    this.rank = remote.rank;
    this.size = remote.size;
  }

  /** The channel that reaches `peer`; ANY_SOURCE goes to the local one (it takes local messages in as it posts; remote ones come in by themselves). */
  #via(peer: number): Channel {
    return peer === ANY_SOURCE || this.#local.has(peer) ? this.#local : this.#remote;
  }

  send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#via(dest).send(dest, env, payload, signal);
  }

  recv(req: RecvRequest): Promise<Received> {
    return this.#via(req.source).recv(req);
  }

  cancel(ctx: number, source: number, err: Error): void {
    this.#via(source).cancel(ctx, source, err);
  }

  iprobe(req: ProbeRequest): Probed | undefined {
    return this.#via(req.source).iprobe(req);
  }

  probe(req: ProbeRequest): Promise<Probed> {
    return this.#via(req.source).probe(req);
  }

  async close(): Promise<void> {
    await Promise.all([this.#local.close(), this.#remote.close()]);
  }
}
