import { createServer, type Server, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { ChannelError, ClosedError, FmiError, PeerLostError } from '../../errors.js';
import { deriveKeys, MIN_SECRET_BYTES, signed, type JobKeys } from '../../rendezvous/auth.js';
import { readLines, writeLine, type Endpoint } from '../../rendezvous/protocol.js';
import { parseServerMessage } from '../../rendezvous/messages.js';
import { describeServer, dialServer, type ServerAddress } from '../../rendezvous/transport.js';
import { integrityFor, type Integrity, type IntegrityMode } from './integrity.js';
import { ANY_SOURCE, type Channel, type Envelope, type OwnReceive, type Probed, type ProbeRequest, type Received, type RecvRequest } from '../channel.js';
import { Matcher } from '../matcher.js';
import { Connection } from './connection.js';
import { acceptHandshake, ByteReader } from './handshake.js';
import { Pairing, type Paired } from './pairing.js';
import { pollMicros, Poller } from './poll.js';

export interface DirectChannelOptions {
  job: string;
  rank: number;
  size: number;
  /** The rendezvous server (with `tls`, over TLS); not needed by a job of one rank. */
  server?: ServerAddress;
  /** Address this rank's listener binds. @default '127.0.0.1' when the server is on loopback, else '0.0.0.0' */
  listenHost?: string;
  /** Give up connecting to a peer after this long (not once introduced to a peer on this host: the server says if it is gone). @default 30000 */
  connectTimeoutMs?: number;
  /**
   * The job's secret (at least 16 bytes; `fmi run` makes 256 random bits):
   * registrations, pairing requests and connections between ranks prove it,
   * and it never goes on the wire. Every rank of a job has the same one, or
   * none has (connections then prove only the job id).
   */
  secret?: string;
  /** Opt-in payload checks (integrity.ts); every rank must pass the same. @default 'none' */
  integrity?: IntegrityMode;
  /** Match arrivals in this matcher, shared with another channel (shared memory in a mixed job: one MPI order for both). @default one of its own */
  matcher?: Matcher;
  /** Ranks that other channel carries: this one never fails receives from them (it would, say, when the server reports them gone). */
  carriedElsewhere?: readonly number[];
  /** While a receive waits, keep the event loop polling (not asleep in epoll) this many µs (poll.ts): lower latency, a busy core. @default 0, off */
  pollUs?: number;
}

type Settings = Required<Omit<DirectChannelOptions, 'server' | 'secret' | 'integrity' | 'matcher' | 'carriedElsewhere' | 'pollUs'>> & { server: ServerAddress };

type State = 'open' | 'closing' | 'closed';

/**
 * With FMI_DEBUG set, each pair's connection is logged to stderr: which path
 * it took and between which addresses, what one needs to see why ranks behind
 * NATs did or did not reach each other.
 */
const DEBUG = Boolean(process.env.FMI_DEBUG);

/** How long an accepted connection may take to say who it is. */
const HELLO_TIMEOUT_MS = 10_000;

interface QueuedSend {
  env: Envelope;
  payload: Uint8Array;
  resolve(): void;
  reject(e: Error): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * TCP between ranks. Connections are made on first use per pair (by the
 * sender; the rendezvous server tells the receiver to join) and kept for the
 * communicator's life.
 */
export class DirectChannel implements Channel {
  readonly name = 'direct';
  readonly rank: number;
  readonly size: number;
  readonly #o: Settings;
  readonly #keys: JobKeys;
  #integrity: Integrity | undefined;
  #poller: Poller | undefined;
  readonly #matcher: Matcher;
  /** DirectChannelOptions.carriedElsewhere: treated as if always connected. */
  readonly #elsewhere: ReadonlySet<number>;
  readonly #conns = new Map<number, Connection>();
  readonly #pairings = new Map<number, Pairing>();
  readonly #gone = new Set<number>();
  readonly #queued = new Map<number, QueuedSend[]>();
  readonly #handshaking = new Set<Socket>();
  readonly #paths = new Map<number, Paired['via']>();
  #control: Socket | undefined;
  #listener: Server | undefined;
  #priv: Endpoint[] = [];
  #state: State = 'open';
  /** Set once the rendezvous server is gone: no new pair can connect from then on. */
  #noRendezvous: string | undefined;

  private constructor(o: Settings, keys: JobKeys, matcher: Matcher | undefined, elsewhere: readonly number[] = []) {
    this.#o = o;
    this.#keys = keys;
    this.rank = o.rank;
    this.size = o.size;
    this.#matcher = matcher ?? new Matcher(o.rank, 'direct');
    this.#elsewhere = new Set(elsewhere);
  }

  static async create(opts: DirectChannelOptions): Promise<DirectChannel> {
    const server = opts.server ?? { host: '127.0.0.1', port: 0 };
    const loopback = /^(127\.|::1$|localhost$)/.test(server.host);
    const { secret, integrity, matcher, carriedElsewhere, pollUs, ...rest } = opts;
    const checks = integrityFor(integrity ?? 'none', opts.job, secret, opts.rank);
    const poll = pollMicros(pollUs ?? 0, opts.rank);
    if (secret !== undefined && (typeof secret !== 'string' || Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES)) {
      throw new FmiError('FMI_CONFIG', `a job secret needs at least ${MIN_SECRET_BYTES} bytes (fmi run makes 256 random bits)`, { rank: opts.rank, channel: 'direct' });
    }
    const settings = { listenHost: loopback ? '127.0.0.1' : '0.0.0.0', connectTimeoutMs: 30_000, ...rest, server };
    const ch = new DirectChannel(settings, deriveKeys(opts.job, secret), matcher, carriedElsewhere);
    ch.#integrity = checks;
    if (poll > 0) ch.#poller = new Poller(poll);
    if (opts.server) {
      await ch.#listen();
      try {
        await ch.#register();
      } catch (err) {
        // A refused rank must not keep its listener (and the process) alive.
        await ch.close();
        throw err;
      }
    } else if (opts.size > 1) {
      throw new ChannelError('a job of more than one rank needs a rendezvous server', { rank: opts.rank, channel: 'direct' });
    }
    return ch;
  }

  send(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    // The common case first, without an async function's extra promise.
    const conn = this.#state === 'open' ? this.#conns.get(dest) : undefined;
    if (conn !== undefined) return conn.send(env, payload, signal);
    return this.#sendSlow(dest, env, payload, signal);
  }

  async #sendSlow(dest: number, env: Envelope, payload: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.#state !== 'open') throw new ClosedError('channel is closed', { rank: this.rank, peer: dest, channel: 'direct' });
    if (dest === this.rank) {
      // The caller may reuse its buffer as soon as send resolves: keep a copy.
      this.#matcher.deliver(dest, env.ctx, env.tag, env.kind, payload.slice());
      return;
    }
    const conn = this.#conns.get(dest);
    if (conn) return conn.send(env, payload, signal);
    if (this.#gone.has(dest)) throw this.#lost(dest);
    if (this.#noRendezvous) throw this.#unpairable(dest);
    // Not connected yet: queue in call order, so that sends made while the pair
    // connects go out in the order they were made.
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const q: QueuedSend = { env, payload, resolve, reject };
      if (signal) {
        q.onAbort = () => {
          const list = this.#queued.get(dest);
          const i = list?.indexOf(q) ?? -1;
          if (i >= 0) list!.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', q.onAbort, { once: true });
        q.signal = signal;
      }
      const list = this.#queued.get(dest);
      if (list) list.push(q);
      else this.#queued.set(dest, [q]);
      if (!this.#pairings.has(dest)) this.#startPairing(dest).promise.catch(() => {});
    });
  }

  recv(req: RecvRequest): Promise<Received> {
    if (this.#state !== 'open') return Promise.reject(new ClosedError('channel is closed', { rank: this.rank, peer: req.source, channel: 'direct' }));
    // Messages a peer sent before it left are still delivered.
    const p = this.#matcher.post(req, this.#unmatched);
    return this.#poller ? this.#poller.watch(p) : p;
  }

  /** recv for a receive that settles itself: completed from the socket's read callback, no promise per receive here (not while polling). */
  recvTo(r: OwnReceive): boolean {
    if (this.#poller) return false;
    if (this.#state !== 'open') r.reject(new ClosedError('channel is closed', { rank: this.rank, peer: r.req.source, channel: 'direct' }));
    else this.#matcher.postOwn(r, this.#unmatched);
    return true;
  }

  /** Where this rank's listener can be reached (what it tells peers through the rendezvous server). */
  get endpoints(): readonly Endpoint[] {
    return this.#priv;
  }

  /** How each connected peer was reached: its listener, a hole punch, or its dial accepted on ours. */
  paths(): Record<number, Paired['via']> {
    return Object.fromEntries(this.#paths);
  }

  cancel(ctx: number, source: number, err: Error): void {
    this.#matcher.cancel(ctx, source, err);
  }

  iprobe(req: ProbeRequest): Probed | undefined {
    return this.#matcher.peek(req);
  }

  probe(req: ProbeRequest): Promise<Probed> {
    if (this.#state !== 'open') return Promise.reject(new ClosedError('channel is closed', { rank: this.rank, peer: req.source, channel: 'direct' }));
    const now = this.#matcher.peek(req);
    if (now) return Promise.resolve(now);
    const err = this.#cannotCome(req.source);
    if (err) return Promise.reject(err);
    return this.#poller ? this.#poller.watch(this.#matcher.probe(req)) : this.#matcher.probe(req);
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    if (this.#control) writeLine(this.#control, { t: 'bye' });
    const err = new ClosedError('channel is closed', { rank: this.rank, channel: 'direct' });
    for (const p of this.#pairings.values()) p.cancel(err);
    await Promise.all([...this.#conns.values()].map((c) => c.end()));
    this.#matcher.close(err);
    this.#control?.end();
    for (const s of this.#handshaking) s.destroy();
    const listener = this.#listener;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
    this.#state = 'closed';
  }

  #lost(peer: number): PeerLostError {
    return new PeerLostError(`rank ${peer} is gone`, { rank: this.rank, peer, channel: 'direct' });
  }

  /** A rank that is neither connected, nor connecting, nor gone: with no rendezvous server, it never will be. */
  #unconnected(): number | undefined {
    for (let peer = 0; peer < this.size; peer++) {
      if (peer !== this.rank && !this.#conns.has(peer) && !this.#pairings.has(peer) && !this.#gone.has(peer) && !this.#elsewhere.has(peer)) return peer;
    }
    return undefined;
  }

  #anyUnpairable(peer: number): ChannelError {
    return new ChannelError(`a receive from any rank cannot complete: rank ${peer} cannot connect: ${this.#noRendezvous}`, { rank: this.rank, peer, channel: 'direct' });
  }

  #unpairable(peer: number): ChannelError {
    return new ChannelError(`cannot connect to rank ${peer}: ${this.#noRendezvous}`, { rank: this.rank, peer, channel: 'direct' });
  }

  /** #cannotCome for the matcher (one function, not a closure per receive). */
  readonly #unmatched = (source: number): Error | undefined => this.#cannotCome(source);

  /**
   * Why nothing more can come from `source` (a specific rank, not connected): it is gone, or it can no longer connect.
   * From any source: once the server is gone, when some rank can no longer connect (the message may be its).
   */
  #cannotCome(source: number): Error | undefined {
    if (source === ANY_SOURCE) {
      const peer = this.#noRendezvous ? this.#unconnected() : undefined;
      return peer === undefined ? undefined : this.#anyUnpairable(peer);
    }
    if (source < 0 || source === this.rank || this.#conns.has(source) || this.#elsewhere.has(source)) return undefined;
    if (this.#gone.has(source)) return this.#lost(source);
    if (this.#noRendezvous && !this.#pairings.has(source)) return this.#unpairable(source);
    return undefined;
  }

  /**
   * The control connection ended while this rank is open: the server died or
   * dropped it. Pairs already connected go on; no new pair can meet, so
   * receives from a rank not connected fail now, as sends to it do, rather
   * than wait for a timeout (forever without one).
   */
  #rendezvousGone(why: string): void {
    if (this.#state !== 'open' || this.#noRendezvous) return;
    this.#noRendezvous = why;
    for (const p of this.#pairings.values()) p.unwatch();
    for (let peer = 0; peer < this.size; peer++) {
      if (peer === this.rank || this.#conns.has(peer) || this.#pairings.has(peer) || this.#gone.has(peer) || this.#elsewhere.has(peer)) continue;
      this.#matcher.failSource(peer, this.#unpairable(peer));
    }
    const peer = this.#unconnected();
    if (peer !== undefined) this.#matcher.failWild(this.#anyUnpairable(peer));
  }

  #startPairing(peer: number): Pairing {
    const started = performance.now();
    const p = new Pairing({
      job: this.#o.job,
      rank: this.rank,
      size: this.size,
      peer,
      keys: this.#keys,
      server: this.#o.server,
      priv: this.#priv,
      timeoutMs: this.#o.connectTimeoutMs,
    });
    this.#pairings.set(peer, p);
    p.promise.then(
      ({ socket, leftover, via }) => {
        this.#pairings.delete(peer);
        this.#paths.set(peer, via);
        if (DEBUG) {
          const ms = Math.round(performance.now() - started);
          process.stderr.write(
            `fmi debug: direct rank ${this.rank} <-> ${peer} via ${via} ${socket.localAddress}:${socket.localPort} -> ${socket.remoteAddress}:${socket.remotePort} in ${ms} ms\n`,
          );
        }
        const conn = new Connection(this.rank, peer, socket, this.#matcher, leftover, (err) => this.#connectionEnded(peer, conn, err), this.#integrity);
        this.#conns.set(peer, conn);
        for (const q of this.#takeQueued(peer)) conn.send(q.env, q.payload, q.signal).then(q.resolve, q.reject);
      },
      (err: Error) => {
        this.#pairings.delete(peer);
        if (DEBUG) process.stderr.write(`fmi debug: direct rank ${this.rank} <-> ${peer} failed: ${err.message}\n`);
        for (const q of this.#takeQueued(peer)) q.reject(err);
        // A pair that was connecting when the server went: nothing will retry it.
        if (this.#noRendezvous && this.#state === 'open' && !this.#conns.has(peer)) {
          this.#matcher.failSource(peer, this.#unpairable(peer));
          this.#matcher.failWild(this.#anyUnpairable(peer));
        }
      },
    );
    return p;
  }

  #takeQueued(peer: number): QueuedSend[] {
    const list = this.#queued.get(peer) ?? [];
    this.#queued.delete(peer);
    for (const q of list) if (q.onAbort) q.signal?.removeEventListener('abort', q.onAbort);
    return list;
  }

  #connectionEnded(peer: number, conn: Connection, err: PeerLostError): void {
    if (this.#conns.get(peer) === conn) this.#conns.delete(peer);
    if (this.#state !== 'open') return;
    // A connection ends when its peer closed or died; nothing more will come from it.
    this.#gone.add(peer);
    this.#matcher.failSource(peer, err);
  }

  async #listen(): Promise<void> {
    const listener = createServer((s) => this.#accept(s));
    this.#listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(0, this.#o.listenHost, () => resolve());
    });
    const { port } = listener.address() as { port: number };
    this.#priv =
      this.#o.listenHost === '0.0.0.0'
        ? Object.values(networkInterfaces())
            .flat()
            .filter((i) => i && i.family === 'IPv4' && !i.internal)
            .map((i) => ({ host: i!.address, port }))
        : [{ host: this.#o.listenHost, port }];
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    // A connection that never proves who it is (a scanner, a stale dial) must
    // not hold the listener open: close() waits for accepted sockets.
    this.#handshaking.add(socket);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    timer.unref();
    const settle = () => {
      clearTimeout(timer);
      this.#handshaking.delete(socket);
    };
    const reader = new ByteReader(socket);
    // Nothing of a stranger's reaches the matcher: its connection is closed here.
    acceptHandshake(socket, reader, { key: this.#keys.direct, rank: this.rank, size: this.size }).then(
      (rank) => {
        settle();
        const p = this.#pairings.get(rank);
        if (p) p.offer(socket, reader);
        else socket.destroy();
      },
      () => {
        settle();
        socket.destroy();
      },
    );
  }

  #register(): Promise<void> {
    return new Promise((resolve, reject) => {
      const where = describeServer(this.#o.server);
      const sock = dialServer(this.#o.server);
      this.#control = sock;
      sock.setNoDelay(true);
      let registered = false;
      const request = { t: 'register' as const, job: this.#o.job, rank: this.rank, size: this.size };
      // A server that never answers (or speaks an older protocol, without a challenge) must not hang init.
      const ms = this.#o.connectTimeoutMs;
      let challenged = false;
      const expire = () => {
        if (registered) return;
        const what = challenged ? `challenged, then did not register this rank within ${ms} ms` : `did not register this rank within ${ms} ms (is it an fmi rendezvous server of this version? one with TLS takes tls://host:port)`;
        reject(new ChannelError(`rendezvous server ${where} ${what}`, { rank: this.rank, channel: 'direct' }));
        sock.destroy();
      };
      // On a starved machine the timer may fire as this process first gets a CPU back, before the
      // answer already waiting in its socket is read: read it first (setImmediate runs after the poll phase).
      const arm = () => setTimeout(() => setImmediate(expire), ms).unref();
      let timer = arm();
      sock.on('error', (err) => {
        clearTimeout(timer);
        if (!registered) reject(new ChannelError(`rendezvous server ${where} unreachable: ${err.message}`, { rank: this.rank, channel: 'direct', cause: err }));
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!registered) reject(new ChannelError(`rendezvous server ${where} closed the connection`, { rank: this.rank, channel: 'direct' }));
        else this.#rendezvousGone(`the rendezvous server ${where} is gone (its connection closed)`);
      });
      readLines(
        sock,
        (raw) => {
          const m = parseServerMessage(raw);
          if (typeof m === 'string') return sock.destroy();
          if (m.t === 'challenge') {
            // A live fmi server: the clock restarts for its answer (dozens of ranks starting on 2 cores queue at it).
            challenged = true;
            clearTimeout(timer);
            timer = arm();
            writeLine(sock, signed(this.#keys, m.nonce, request));
          } else if (m.t === 'enroll') {
            // This job's first registration: the server keeps this key to check later ones.
            if (this.#keys.secret) writeLine(sock, { t: 'enroll', key: this.#keys.rendezvous.toString('base64') });
          } else if (m.t === 'registered') {
            registered = true;
            clearTimeout(timer);
            resolve();
          } else if (m.t === 'want') {
            if (!this.#isPeer(m.from)) return;
            if (this.#state === 'open' && !this.#conns.has(m.from) && !this.#pairings.has(m.from)) this.#startPairing(m.from).promise.catch(() => {});
          } else if (m.t === 'gone') {
            if (this.#isPeer(m.rank)) this.#peerGone(m.rank);
          } else if (m.t === 'error') {
            reject(new ChannelError(`rendezvous: ${m.message}`, { rank: this.rank, channel: 'direct' }));
          }
        },
        () => sock.destroy(),
      );
    });
  }

  #isPeer(r: unknown): r is number {
    return Number.isInteger(r) && (r as number) >= 0 && (r as number) < this.size && r !== this.rank;
  }

  #peerGone(peer: number): void {
    if (this.#elsewhere.has(peer)) return;
    this.#gone.add(peer);
    this.#pairings.get(peer)?.cancel(this.#lost(peer));
    // With a connection, its close (after every byte it carried) fails the receives.
    if (!this.#conns.has(peer)) this.#matcher.failSource(peer, this.#lost(peer));
  }
}
