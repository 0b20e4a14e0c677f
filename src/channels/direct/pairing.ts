import { connect, type Socket } from 'node:net';
import { ChannelError } from '../../errors.js';
import { signed, type JobKeys } from '../../rendezvous/auth.js';
import { readLines, writeLine, type Endpoint } from '../../rendezvous/protocol.js';
import { dialServer, type ServerAddress } from '../../rendezvous/transport.js';
import { parseServerMessage } from '../../rendezvous/messages.js';
import { ByteReader, dialHandshake, REJECT, SELECT } from './handshake.js';

export interface PairingSetup {
  job: string;
  rank: number;
  size: number;
  peer: number;
  keys: JobKeys;
  server: ServerAddress;
  /** This rank's listener addresses, for peers that can reach it directly. */
  priv: Endpoint[];
  timeoutMs: number;
  /** Time between hole-punching attempts. @default 50 */
  punchIntervalMs?: number;
  /** How long one hole-punching attempt may wait for the peer's SYN. @default 4000 */
  punchAttemptMs?: number;
}

/**
 * After a refused punch (the peer's NAT answered our SYN with a RST: it has no
 * mapping for us yet), dial again this soon. Through such NATs the two SYNs
 * must cross within one one-way delay, so a SYN should be in flight nearly all
 * the time; on a WAN the refusal itself took a round trip, so this adds little,
 * and on a LAN it bounds the dialing to a thousand SYNs a second.
 */
const REFUSED_RETRY_MS = 1;

/**
 * A dial of the peer's listener that failed (refused, reset, closed before
 * the pair chose it) is dialed again after this long, doubled each time up to
 * LISTENER_RETRY_MAX_MS: the peer may be slow, and only the rendezvous server
 * (`gone`) or the deadline says it is lost.
 */
const LISTENER_RETRY_MS = 10;
const LISTENER_RETRY_MAX_MS = 1000;
/**
 * A listener dial whose SYN got no answer within this is dialed again, a new
 * SYN at once (an accept queue that overflowed drops SYNs, and the kernel's
 * own retransmissions come after 1, 3, 7, 15, 31 s).
 */
const LISTENER_CONNECT_MS = 2000;

/** A listener on loopback: the peer is on this host (both ranks reached the server there). */
function onThisHost(priv: Endpoint[]): boolean {
  return priv.length > 0 && priv.every((ep) => /^(127\.|::1$|localhost$)/.test(ep.host));
}

interface Punching {
  local: Endpoint;
  pub: Endpoint;
  /** This rank's pairing connection as the server saw it. */
  you?: Endpoint;
  attempts: number;
  refused: number;
}

export interface Paired {
  socket: Socket;
  /** Bytes that came after the handshake: the first frames. */
  leftover: Buffer;
  via: 'listener' | 'punch' | 'accepted';
}

/**
 * Connects one pair of ranks, TCPunch style: both register the pair at the
 * rendezvous server, learn the other's endpoint as the server saw it, and dial
 * it from the port they registered from (through NATs that keep ports, both
 * SYNs open the way; simultaneous open joins them). Node cannot listen on that
 * port while dialing from it, so each rank also listens on a port of its own,
 * and the higher rank dials it too: this is the path on loopback and LANs.
 * The lower rank picks the first connection that completes the handshake.
 */
export class Pairing {
  readonly promise: Promise<Paired>;
  readonly #s: PairingSetup;
  readonly #candidates = new Set<Socket>();
  #settled = false;
  #resolve!: (p: Paired) => void;
  #reject!: (e: Error) => void;
  #rendezvous: Socket | undefined;
  #punchTimer: NodeJS.Timeout | undefined;
  readonly #dialTimers = new Set<NodeJS.Timeout>();
  #deadline: NodeJS.Timeout | undefined;
  /** The deadline's expiry, put off until after the next poll phase (#arm). */
  #late: NodeJS.Immediate | undefined;
  /** Introduced to a peer on this host while the server watches both: no clock runs (see #register). */
  #unclocked = false;
  /** This rank's control connection is up: the server would say if the peer were gone. */
  #watched = true;
  /** What hole punching saw, for the error when it fails. */
  #punching: Punching | undefined;

  constructor(setup: PairingSetup) {
    this.#s = setup;
    this.promise = new Promise<Paired>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#arm();
    this.#register();
  }

  /** The deadline, from now. */
  #arm(): void {
    this.#disarm();
    if (this.#settled) return;
    // A process that was stopped or starved runs its due timers before it reads its sockets: the server's
    // `peer`, which stops this clock, may already wait in one. Read first (setImmediate runs after the poll phase).
    this.#deadline = setTimeout(() => {
      this.#late = setImmediate(this.#expire);
    }, this.#s.timeoutMs);
    this.#deadline.unref();
  }

  #expire = (): void => {
    this.#late = undefined;
    this.cancel(new ChannelError(this.#timeoutMessage(), this.#fields()));
  };

  /** No deadline, nor an expiry put off. */
  #disarm(): void {
    clearTimeout(this.#deadline);
    clearImmediate(this.#late);
    this.#late = undefined;
  }

  /** A connection accepted on this rank's listener whose dialer proved to be our peer. */
  offer(socket: Socket, reader: ByteReader): void {
    if (this.#settled) return reject(socket);
    this.#candidates.add(socket);
    void this.#decide(socket, reader, 'accepted');
  }

  /** The rendezvous server is gone, and with it the word that the peer is: the clock runs again. */
  unwatch(): void {
    this.#watched = false;
    if (!this.#unclocked) return;
    this.#unclocked = false;
    this.#arm();
  }

  cancel(err: Error): void {
    if (this.#settled) return;
    this.#finish();
    this.#reject(err);
  }

  #fields() {
    return { rank: this.#s.rank, peer: this.#s.peer, op: 'connect', channel: 'direct' };
  }

  /** Why the pair did not connect, as far as this side can tell, and what to do about it. */
  #timeoutMessage(): string {
    const s = this.#s;
    const head = `could not connect to rank ${s.peer} within ${s.timeoutMs} ms`;
    const p = this.#punching;
    if (!p) return `${head}: the rendezvous server did not introduce it (has rank ${s.peer} started?)`;
    const what = `${head}: ${p.attempts} hole-punching attempt${p.attempts === 1 ? '' : 's'} from port ${p.local.port} to ${p.pub.host}:${p.pub.port} got no connection (${p.refused} refused)`;
    const symmetric =
      p.you && p.you.port !== p.local.port
        ? `this rank's NAT did not keep its port (the rendezvous server saw ${p.local.port} as ${p.you.port}): a NAT that picks new ports per connection (a symmetric NAT) cannot be crossed by TCP hole punching`
        : `if either rank's NAT gives each connection its own port (a symmetric NAT), TCP hole punching cannot cross it`;
    return `${what}; ${symmetric}. Use the redis or s3 channel for such ranks (FMI_CONFIG or fmi run --config)`;
  }

  #register(): void {
    const s = this.#s;
    const sock = dialServer(s.server);
    this.#rendezvous = sock;
    sock.setNoDelay(true);
    let peerInfo: { pub: Endpoint; priv: Endpoint[]; you?: Endpoint } | undefined;
    let vouched = false;
    // Read now: once closed, a socket no longer knows its local address.
    let local: Endpoint | undefined;
    sock.on('connect', () => {
      local = { host: sock.localAddress!, port: sock.localPort! };
    });
    readLines(
      sock,
      (raw) => {
        const m = parseServerMessage(raw);
        if (typeof m === 'string') return this.cancel(new ChannelError(`rendezvous sent junk: ${m}`, this.#fields()));
        if (m.t === 'challenge') {
          writeLine(sock, signed(s.keys, m.nonce, { t: 'pair', job: s.job, from: s.rank, to: s.peer, priv: s.priv }));
        } else if (m.t === 'peer') {
          peerInfo = { pub: m.pub, priv: m.priv, you: m.you };
          if (onThisHost(m.priv) && this.#watched) {
            // Both ranks are up, on this host, with listeners: the dial reaches the peer's
            // listener unless the peer is gone, and the server says when it is (its control
            // connection ends). A slow peer is not a lost one: no clock (unwatch() restarts it).
            this.#unclocked = true;
            this.#disarm();
          }
          // Connecting is this side's business again: the whole connect timeout for it (a dial that
          // fails for good, behind NATs, must not punch for ever).
          else if (vouched) this.#arm();
        }
        // The job's launcher vouches for the peer: waiting for it is no failure (the server tells if it dies or is given up).
        else if (m.t === 'starting') {
          vouched = true;
          this.#disarm();
        } else if (m.t === 'started') this.#arm();
        else if (m.t === 'error') this.cancel(new ChannelError(`rendezvous: ${m.message}`, this.#fields()));
      },
      (why) => this.cancel(new ChannelError(`rendezvous sent junk: ${why}`, this.#fields())),
    );
    sock.on('error', (err) => {
      if (!peerInfo) this.cancel(new ChannelError(`rendezvous server unreachable: ${err.message}`, { ...this.#fields(), cause: err }));
    });
    sock.on('close', () => {
      this.#rendezvous = undefined;
      if (this.#settled) return;
      if (!peerInfo || !local) return this.cancel(new ChannelError('rendezvous server closed the pairing connection', this.#fields()));
      // The server closed first, so the port we paired from is free to dial from.
      this.#dial(local, peerInfo);
    });
  }

  #dial(local: Endpoint, peer: { pub: Endpoint; priv: Endpoint[]; you?: Endpoint }): void {
    if (this.#s.rank > this.#s.peer) {
      for (const ep of peer.priv) this.#dialListener(ep, 0);
    }
    // On this host the listener is the way: punching would only add SYNs, a thousand a second while the peer is slow.
    if (peer.pub.port === 0 || onThisHost(peer.priv)) return;
    this.#punching = { local, pub: peer.pub, you: peer.you, attempts: 0, refused: 0 };
    this.#punch(this.#punching);
  }

  /** Dials the peer's listener, and again (backing off) each time that connection ends unchosen. */
  #dialListener(ep: Endpoint, failures: number): void {
    if (this.#settled) return;
    const sock = connect({ host: ep.host, port: ep.port });
    sock.setTimeout(LISTENER_CONNECT_MS);
    sock.once('timeout', () => sock.destroy());
    // Refused or reset: 'close' follows, and dials again.
    sock.on('error', () => {});
    sock.once('close', () => {
      if (this.#settled) return;
      const timer = setTimeout(() => {
        this.#dialTimers.delete(timer);
        this.#dialListener(ep, failures + 1);
      }, Math.min(LISTENER_RETRY_MAX_MS, LISTENER_RETRY_MS * 2 ** failures));
      this.#dialTimers.add(timer);
    });
    this.#attempt(sock, 'listener');
  }

  #punch(p: Punching): void {
    if (this.#settled) return;
    p.attempts++;
    const sock = connect({ host: p.pub.host, port: p.pub.port, localAddress: p.local.host, localPort: p.local.port });
    sock.setTimeout(this.#s.punchAttemptMs ?? 4000);
    let retried = false;
    const retry = (err?: NodeJS.ErrnoException) => {
      if (retried) return;
      retried = true;
      sock.destroy();
      if (this.#settled) return;
      const refused = err?.code === 'ECONNREFUSED';
      if (refused) p.refused++;
      this.#punchTimer = setTimeout(() => this.#punch(p), refused ? REFUSED_RETRY_MS : (this.#s.punchIntervalMs ?? 50));
    };
    sock.once('timeout', () => retry());
    sock.once('error', retry);
    this.#attempt(sock, 'punch', retry);
  }

  #attempt(sock: Socket, via: 'listener' | 'punch', onFail?: () => void): void {
    this.#candidates.add(sock);
    // A failed punch is destroyed without an error; with a retry every millisecond they add up.
    sock.once('close', () => this.#candidates.delete(sock));
    sock.once('connect', () => {
      sock.setTimeout(0);
      if (onFail) sock.off('error', onFail);
      if (this.#settled) return reject(sock);
      // The handshake writes twice before the peer answers: Nagle would hold the second write for a delayed ACK.
      sock.setNoDelay(true);
      const reader = new ByteReader(sock);
      const s = this.#s;
      dialHandshake(sock, reader, { key: s.keys.direct, rank: s.rank, size: s.size }, s.peer)
        .then(() => this.#decide(sock, reader, via))
        .catch(() => {
          this.#candidates.delete(sock);
          sock.destroy();
        });
    });
  }

  async #decide(sock: Socket, reader: ByteReader, via: Paired['via']): Promise<void> {
    try {
      if (this.#s.rank < this.#s.peer) {
        if (this.#settled) return reject(sock);
        sock.write(Buffer.of(SELECT));
        this.#adopt(sock, reader, via);
      } else {
        const [choice] = await reader.read(1);
        if (choice !== SELECT || this.#settled) return reject(sock);
        this.#adopt(sock, reader, via);
      }
    } catch {
      this.#candidates.delete(sock);
      sock.destroy();
    }
  }

  #adopt(sock: Socket, reader: ByteReader, via: Paired['via']): void {
    this.#candidates.delete(sock);
    const leftover = reader.detach();
    this.#finish();
    this.#resolve({ socket: sock, leftover, via });
  }

  #finish(): void {
    this.#settled = true;
    this.#disarm();
    if (this.#punchTimer) clearTimeout(this.#punchTimer);
    for (const t of this.#dialTimers) clearTimeout(t);
    this.#dialTimers.clear();
    this.#rendezvous?.destroy();
    for (const c of this.#candidates) c.destroy();
    this.#candidates.clear();
  }
}

function reject(sock: Socket): void {
  if (!sock.destroyed) sock.end(Buffer.of(REJECT));
  setTimeout(() => sock.destroy(), 1000).unref();
}
