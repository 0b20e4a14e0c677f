import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import { FmiError } from '../../errors.js';

/**
 * The first bytes on every direct connection: a mutual challenge-response
 * under the job's direct key (src/rendezvous/auth.ts), before either side
 * says who it is or reads a frame.
 *   both ways            "FMIA" nonce(32)        a fresh nonce per connection
 *   dialer -> acceptor   u32 rank, mac(32)
 *   acceptor -> dialer   u32 rank, mac(32)       only once the dialer's mac checked out
 * mac = HMAC-SHA-256(key, label, sender's nonce, receiver's nonce, sender's
 * rank, receiver's rank): good for one connection and one direction, so a
 * recorded handshake replayed, or a mac reflected back, fails. A stranger who
 * connects to a listener gets a nonce and is closed; no job id goes out.
 * Ranks that dial each other at once (a hole punch's simultaneous open) are
 * both dialers: each proves itself without waiting for the other.
 *
 * Then the lower rank of the pair, which decides which of several candidate
 * connections (listener, hole punch, simultaneous open) becomes the pair's
 * connection, sends one byte: 1 = this one, 0 = close it.
 */
const MAGIC = Buffer.from('FMIA', 'latin1');
const NONCE_BYTES = 32;
const MAC_BYTES = 32;
const CHALLENGE_BYTES = MAGIC.byteLength + NONCE_BYTES;
const PROOF_BYTES = 4 + MAC_BYTES;
export const SELECT = 1;
export const REJECT = 0;

/** What a rank needs to prove itself on a direct connection and to check its peer. */
export interface HandshakeKeys {
  /** The job's direct key. */
  key: Buffer;
  rank: number;
  size: number;
}

/**
 * Bytes a connection may send ahead of what its handshake has read; past that
 * the socket is paused, and TCP holds the rest back. A stranger cannot make a
 * listener buffer without end, and a peer's first frames still wait here.
 */
const MAX_AHEAD = 64 * 1024;

/** Reads exact byte counts from a socket, then hands the rest to whoever owns it next. */
export class ByteReader {
  readonly #socket: Socket;
  #buf: Buffer = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #ended: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.#buf = this.#buf.byteLength === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#buf.byteLength >= MAX_AHEAD) this.#socket.pause();
    this.#pump();
  };
  readonly #onEnd = () => {
    this.#ended = new FmiError('FMI_CHANNEL', 'connection closed during handshake');
    this.#pump();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onEnd);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#pump();
      if (this.#want) this.#socket.resume();
    });
  }

  /** Stops reading; returns bytes that arrived past the handshake. */
  detach(): Buffer {
    // Paused until the next owner listens: a flowing socket with no 'data' listener drops bytes.
    this.#socket.pause();
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onEnd);
    const rest = this.#buf;
    this.#buf = Buffer.alloc(0);
    return rest;
  }

  #pump(): void {
    const w = this.#want;
    if (!w) return;
    if (this.#buf.byteLength >= w.n) {
      this.#want = undefined;
      const out = this.#buf.subarray(0, w.n);
      this.#buf = this.#buf.subarray(w.n);
      w.resolve(out);
    } else if (this.#ended) {
      this.#want = undefined;
      w.reject(this.#ended);
    }
  }
}

/**
 * The dialer's side: proves this rank to `peer`, then checks that whoever
 * answered is `peer` of the same job.
 */
export async function dialHandshake(socket: Socket, reader: ByteReader, k: HandshakeKeys, peer: number): Promise<void> {
  const mine = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([MAGIC, mine]));
  const theirs = await readChallenge(reader, mine);
  socket.write(proof(k.key, mine, theirs, k.rank, peer));
  const rank = await readProof(reader, k, theirs, mine);
  if (rank !== peer) throw new FmiError('FMI_PROTOCOL', `expected rank ${peer}, got ${rank}`);
}

/**
 * The acceptor's side: checks the dialer's proof before it says anything but
 * its nonce; returns the dialer's rank.
 */
export async function acceptHandshake(socket: Socket, reader: ByteReader, k: HandshakeKeys): Promise<number> {
  const mine = randomBytes(NONCE_BYTES);
  socket.write(Buffer.concat([MAGIC, mine]));
  const theirs = await readChallenge(reader, mine);
  const rank = await readProof(reader, k, theirs, mine);
  socket.write(proof(k.key, mine, theirs, k.rank, rank));
  return rank;
}

async function readChallenge(reader: ByteReader, mine: Buffer): Promise<Buffer> {
  const b = await reader.read(CHALLENGE_BYTES);
  if (!b.subarray(0, MAGIC.byteLength).equals(MAGIC)) throw new FmiError('FMI_PROTOCOL', 'not an fmi peer (or one of another version)');
  const theirs = Buffer.from(b.subarray(MAGIC.byteLength));
  // Our own nonce sent back would make our proof theirs.
  if (theirs.equals(mine)) throw new FmiError('FMI_PROTOCOL', 'peer echoed our nonce');
  return theirs;
}

/** Reads the peer's rank and mac; throws unless the rank is another of the job's and the mac proves it. */
async function readProof(reader: ByteReader, k: HandshakeKeys, theirs: Buffer, mine: Buffer): Promise<number> {
  const b = await reader.read(PROOF_BYTES);
  const rank = b.readUInt32LE(0);
  const want = proof(k.key, theirs, mine, rank, k.rank).subarray(4);
  if (!timingSafeEqual(b.subarray(4), want)) throw new FmiError('FMI_PROTOCOL', 'peer did not prove the job secret');
  // Checked after the mac, so a stranger learns nothing from which check failed.
  if (rank >= k.size || rank === k.rank) throw new FmiError('FMI_PROTOCOL', `peer claims rank ${rank} (this rank is ${k.rank} of ${k.size})`);
  return rank;
}

function proof(key: Buffer, senderNonce: Buffer, receiverNonce: Buffer, sender: number, receiver: number): Buffer {
  const ranks = Buffer.alloc(8);
  ranks.writeUInt32LE(sender, 0);
  ranks.writeUInt32LE(receiver, 4);
  const mac = createHmac('sha256', key).update('fmi direct v1').update(senderNonce).update(receiverNonce).update(ranks).digest();
  const out = Buffer.alloc(PROOF_BYTES);
  out.writeUInt32LE(sender, 0);
  mac.copy(out, 4);
  return out;
}
