import { ANY_SOURCE, type Channel, type Envelope, type Probed, type ProbeRequest, type Received, type RecvRequest } from '../channel.js';
import type { ShmChannel } from './shm-channel.js';

/**
 * A job whose ranks are threads of several processes: shared memory to the
 * ranks of this process, `remote` (direct TCP) to the others. A receive from
 * one source goes to the channel that reaches it. A receive from any source
 * probes both, waits on both, and takes the message from the channel that
 * has one first; messages from one source keep their order (one channel
 * carries them all).
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

  #via(peer: number): Channel {
    return this.#local.has(peer) ? this.#local : this.#remote;
  }

  send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    return this.#via(dest).send(dest, env, payload, signal);
  }

  recv(req: RecvRequest): Promise<Received> {
    if (req.source !== ANY_SOURCE) return this.#via(req.source).recv(req);
    return this.#fromAny(req);
  }

  cancel(ctx: number, source: number, err: Error): void {
    this.#via(source).cancel(ctx, source, err);
  }

  iprobe(req: ProbeRequest): Probed | undefined {
    if (req.source !== ANY_SOURCE) return this.#via(req.source).iprobe(req);
    return this.#firstOf(req);
  }

  async probe(req: ProbeRequest): Promise<Probed> {
    if (req.source !== ANY_SOURCE) return this.#via(req.source).probe(req);
    for (;;) {
      const now = this.#firstOf(req);
      if (now) return now;
      await this.#either(req);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#local.close(), this.#remote.close()]);
  }

  /** A wildcard receive: take a message one of the channels holds, else wait until one does and look again. */
  async #fromAny(req: RecvRequest): Promise<Received> {
    for (;;) {
      const p = this.#firstOf(req);
      // A receive from that source with that tag takes that very message (the channel keeps per-source order), synchronously.
      if (p) return this.#via(p.source).recv({ ...req, source: p.source, tag: req.tag });
      await this.#either(req);
    }
  }

  #firstOf(req: ProbeRequest): Probed | undefined {
    return this.#local.iprobe(req) ?? this.#remote.iprobe(req);
  }

  /** Resolves when either channel has a message `req` would take (another wildcard receive may take it first: look again). */
  async #either(req: ProbeRequest): Promise<void> {
    const stop = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, stop.signal]) : stop.signal;
    const r = { ...req, signal };
    try {
      await Promise.race([this.#local.probe(r), this.#remote.probe(r)]);
    } finally {
      stop.abort();
    }
  }
}
