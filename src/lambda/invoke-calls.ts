import { FmiError } from '../errors.js';
import { checkPort, type Endpoint } from '../rendezvous/protocol.js';
import type { RankError } from './payload.js';
import type { InvokeAnswer } from './sdk.js';

// The launcher's small parts: what an error of an Invoke call means (throttled,
// transient, a crash), how long to wait before the next attempt, and a
// counting semaphore for --concurrency.

/** "host:port" to listen on; port 0 takes any free port. */
export function parseListen(s: string): Endpoint {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s.trim());
  if (!m) throw new FmiError('FMI_CONFIG', `rendezvous listen address ${JSON.stringify(s)} is not host:port`);
  return { host: (m[1] ?? m[2])!, port: checkPort(Number(m[3]), 'rendezvous listen port') };
}

export function crashError(a: InvokeAnswer): RankError {
  const p = a.payload as { errorType?: unknown; errorMessage?: unknown } | null;
  const type = typeof p?.errorType === 'string' ? p.errorType : a.functionError ?? 'Unhandled';
  const msg = typeof p?.errorMessage === 'string' ? p.errorMessage : JSON.stringify(p);
  const timedOut = type === 'Sandbox.Timedout' || /Task timed out/.test(msg);
  return { code: timedOut ? 'LAMBDA_TIMEOUT' : type, message: timedOut ? `Lambda killed the function at its timeout (${msg})` : msg };
}

const THROTTLES = new Set(['TooManyRequestsException', 'ThrottlingException', 'EC2ThrottledException']);
const TRANSIENT = new Set(['ServiceException', 'ResourceNotReadyException', 'EC2UnexpectedException', 'ENILimitReachedException', 'SubnetIPAddressLimitReachedException', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'TimeoutError']);

export function isThrottle(err: unknown): boolean {
  return THROTTLES.has(errorName(err)) || status(err) === 429;
}

export function isTransient(err: unknown): boolean {
  const s = status(err);
  return TRANSIENT.has(errorName(err)) || TRANSIENT.has((err as { code?: string })?.code ?? '') || (s !== undefined && s >= 500);
}

/** The error's name; for a plain Error (a socket's), its code: 'ECONNRESET' says more than 'Error'. */
export function errorName(err: unknown): string {
  const name = (err as Error)?.name || 'Error';
  const code = (err as { code?: unknown })?.code;
  return name === 'Error' && typeof code === 'string' ? code : name;
}

export function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** Full jitter: a random wait up to base * 2^(attempt-1), capped. */
export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** (attempt - 1));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A counting semaphore: at most `n` holders. */
export class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(n: number) {
    this.#free = n;
  }

  take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((r) => this.#waiting.push(r));
  }

  give(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}
