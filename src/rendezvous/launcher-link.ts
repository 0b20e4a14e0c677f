import { connect, type Socket } from 'node:net';
import { ChannelError } from '../errors.js';
import { deriveKeys, signed } from './auth.js';
import { parseServerMessage } from './messages.js';
import { readLines, writeLine, type Endpoint } from './protocol.js';

export interface LauncherLinkOptions {
  server: Endpoint;
  job: string;
  size: number;
  /** The job's secret: the launcher proves it as a rank does (and enrolls the job if it comes first). */
  secret?: string;
  /** Give up registering after this long. @default 10000 */
  timeoutMs?: number;
  /** A rank registered (it started). */
  onJoined?: (rank: number) => void;
  /** The server introduced a rank to a peer for the first time: it is past init() and pairing. */
  onPaired?: (rank: number) => void;
  /** A rank's control connection ended: cleanly (it closed) or not. */
  onGone?: (rank: number, clean: boolean) => void;
  /** The connection to the server ended before close(). */
  onLost?: (why: string) => void;
}

/**
 * A launcher's connection to the rendezvous server (see protocol.ts): while it
 * is open, each rank of the job registers once only, the launcher hears which
 * ranks started, paired and left, and it can give up a rank that will never start,
 * which tells the ranks that did start at once.
 */
export class LauncherLink {
  readonly #socket: Socket;
  #closed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
  }

  static open(o: LauncherLinkOptions): Promise<LauncherLink> {
    const keys = deriveKeys(o.job, o.secret);
    const { host, port } = o.server;
    const sock = connect({ host, port });
    sock.setNoDelay(true);
    const link = new LauncherLink(sock);
    return new Promise((resolve, reject) => {
      let registered = false;
      const ms = o.timeoutMs ?? 10_000;
      const fail = (why: string, cause?: unknown) => {
        clearTimeout(timer);
        if (!registered) {
          reject(new ChannelError(`rendezvous server ${host}:${port}: ${why}`, { op: 'launch', cause }));
          sock.destroy();
        } else if (!link.#closed) {
          link.#closed = true;
          o.onLost?.(why);
        }
      };
      const timer = setTimeout(() => fail(`did not register the launcher within ${ms} ms`), ms);
      timer.unref();
      sock.on('error', (err) => fail(`unreachable: ${err.message}`, err));
      sock.on('close', () => fail('closed the connection'));
      readLines(
        sock,
        (raw) => {
          const m = parseServerMessage(raw);
          if (typeof m === 'string') return fail(`bad message: ${m}`);
          if (m.t === 'challenge') writeLine(sock, signed(keys, m.nonce, { t: 'launch' as const, job: o.job, size: o.size }));
          else if (m.t === 'enroll' && keys.secret) writeLine(sock, { t: 'enroll', key: keys.rendezvous.toString('base64') });
          else if (m.t === 'registered') {
            registered = true;
            clearTimeout(timer);
            resolve(link);
          } else if (m.t === 'joined') o.onJoined?.(m.rank);
          else if (m.t === 'paired') o.onPaired?.(m.rank);
          else if (m.t === 'gone') o.onGone?.(m.rank, m.clean);
          else if (m.t === 'error') fail(m.message);
        },
        (why) => fail(why),
      );
    });
  }

  /** Tells the job's ranks that `rank` will never come (they fail with FMI_PEER_LOST), and refuses it if it does. */
  abort(rank: number): void {
    if (!this.#closed) writeLine(this.#socket, { t: 'abort', rank });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
  }
}
