import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Liveness heartbeats, written from a worker thread.
 *
 * Why a thread: a rank busy in a long synchronous computation (a big local
 * reduction, a Wasm kernel) blocks its event loop, so a timer there could not
 * refresh anything and its peers would declare a live rank dead. The worker's
 * loop is never blocked by the rank's code, and it dies with the process, so a
 * heartbeat stops exactly when the rank is killed or its function times out.
 * (A rank stuck forever in an endless loop therefore looks alive: as in MPI,
 * a hang is for timeouts to catch.)
 *
 * One worker per process, shared by every channel of it (tests run many ranks
 * in one process), unref'd so it never keeps the process alive. Each beat has
 * its own connection or client in the worker, made from plain options.
 */
export type BeatSpec =
  | {
      kind: 'redis';
      url?: string;
      host?: string;
      port?: number;
      key: string;
      ttlMs: number;
      periodMs: number;
      /** A key whose TTL every tenth beat renews (the rank's state: started or closed). */
      stateKey: string;
      stateTtlSeconds: number;
    }
  | {
      kind: 's3';
      endpoint?: string;
      region?: string;
      credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
      timeoutMs: number;
      bucket: string;
      key: string;
      periodMs: number;
    };

export interface Heartbeat {
  /** Resolves at the first write that succeeded (peers may rely on the beat from then on), or after the time given; never rejects. */
  readonly started: Promise<void>;
  /**
   * Stops beating. Resolves once a write in flight has been answered (or
   * after `ms`), so a write of the caller's after it cannot be overtaken.
   */
  stop(ms: number): Promise<void>;
}

type FromWorker = { op: 'stopped'; id: number } | { op: 'beat'; id: number };

// CommonJS, evaluated in the worker: it must run both from dist and from the
// TypeScript sources under vitest, so it is not a module file of its own.
const WORKER = `
const { parentPort } = require('node:worker_threads');
const beats = new Map();
const sleep = (ms, b) => new Promise((r) => { b.wake = r; b.timer = setTimeout(r, ms); });
function redisWriter(s, mod) {
  const { Redis } = require(mod);
  const o = { retryStrategy: () => Math.min(s.periodMs, 250), enableOfflineQueue: false, maxRetriesPerRequest: 0, disableClientInfo: true, noDelay: true };
  const c = s.url ? new Redis(s.url, o) : new Redis({ ...o, host: s.host || '127.0.0.1', port: s.port || 6379 });
  c.on('error', () => {});
  let n = 0;
  const write = () => {
    const p = c.pipeline().set(s.key, '1', 'PX', s.ttlMs);
    if (n++ % 10 === 0) p.expire(s.stateKey, s.stateTtlSeconds);
    return p.exec().then((r) => { for (const [err] of r || []) if (err) throw err; });
  };
  return { write, close: () => c.disconnect() };
}
function s3Writer(s, mod) {
  const { S3Client, PutObjectCommand } = require(mod);
  const c = new S3Client({
    endpoint: s.endpoint, region: s.region || (s.endpoint ? 'us-east-1' : undefined), credentials: s.credentials, forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { requestTimeout: s.timeoutMs, connectionTimeout: Math.min(s.timeoutMs, 10000), throwOnRequestTimeout: true },
  });
  return { write: () => c.send(new PutObjectCommand({ Bucket: s.bucket, Key: s.key, Body: 'up' })), close: () => c.destroy() };
}
async function run(id, s, mod) {
  const b = { stopped: false, wake: null, timer: null, writing: null };
  beats.set(id, b);
  let w;
  try { w = s.kind === 'redis' ? redisWriter(s, mod) : s3Writer(s, mod); } catch { beats.delete(id); parentPort.postMessage({ op: 'stopped', id }); return; }
  while (!b.stopped) {
    const started = Date.now();
    b.writing = w.write().then(() => parentPort.postMessage({ op: 'beat', id }), () => {});
    await b.writing;
    b.writing = null;
    if (b.stopped) break;
    await sleep(Math.max(0, started + s.periodMs - Date.now()), b);
  }
  w.close();
  beats.delete(id);
  parentPort.postMessage({ op: 'stopped', id });
}
parentPort.on('message', (m) => {
  if (m.op === 'start') void run(m.id, m.spec, m.module);
  else if (m.op === 'stop') {
    const b = beats.get(m.id);
    if (!b) return parentPort.postMessage({ op: 'stopped', id: m.id });
    b.stopped = true;
    clearTimeout(b.timer);
    if (b.wake) b.wake();
  }
});
`;

let worker: Worker | undefined;
let nextId = 0;
/** Starts and stops under way: the process stays open for their answer. */
let held = 0;
/** What to call when the worker answers (or exits), by heartbeat id. */
const onStopped = new Map<number, () => void>();
const onBeat = new Map<number, () => void>();

/**
 * The file the worker loads a beat's client from, resolved on first use of
 * each kind (a Redis-only rank needs no S3 SDK). A bundle made by `fmi lambda
 * package` has no node_modules: its ioredis is a CommonJS bundle beside it
 * (BUNDLED_IOREDIS), and the S3 SDK is the one the Lambda runtime has.
 */
const modulePaths = new Map<BeatSpec['kind'], string>();
/** The name `fmi lambda package` gives the worker's copy of ioredis, next to the bundle. */
export const BUNDLED_IOREDIS = 'fmi-ioredis.cjs';

function modulePath(kind: BeatSpec['kind']): string {
  let path = modulePaths.get(kind);
  if (path !== undefined) return path;
  const name = kind === 'redis' ? 'ioredis' : '@aws-sdk/client-s3';
  try {
    path = createRequire(import.meta.url).resolve(name);
  } catch (cause) {
    const beside = fileURLToPath(new URL(`./${BUNDLED_IOREDIS}`, import.meta.url));
    if (kind !== 'redis' || !existsSync(beside)) throw new Error(`heartbeat: cannot find ${name}`, { cause });
    path = beside;
  }
  modulePaths.set(kind, path);
  return path;
}

/**
 * Settles once, when `fn` is called or after `ms`; keeps the process open
 * meanwhile (the worker is unref'd, and the caller may await nothing else).
 */
function heldUntil(w: Worker, ms: number): { done: Promise<void>; settle(): void } {
  let settle = () => {};
  const done = new Promise<void>((resolve) => {
    if (held++ === 0) w.ref();
    const t = setTimeout(() => settle(), ms);
    settle = () => {
      settle = () => {};
      clearTimeout(t);
      if (--held === 0) worker?.unref();
      resolve();
    };
  });
  return { done, settle: () => settle() };
}

function shared(): Worker {
  if (worker) return worker;
  // No execArgv: the rank's own flags (say --input-type=module) would make the worker's CommonJS fail.
  const w = new Worker(WORKER, { eval: true, execArgv: [] });
  w.on('message', (m: FromWorker) => (m.op === 'beat' ? onBeat : onStopped).get(m.id)?.());
  // A worker that died takes every heartbeat with it; peers will see this rank as dead, which is the safe side of wrong.
  w.on('error', () => {});
  w.on('exit', () => {
    if (worker === w) worker = undefined;
    for (const f of [...onStopped.values(), ...onBeat.values()]) f();
  });
  // After the listeners: adding a 'message' listener refs the worker again.
  w.unref();
  worker = w;
  return w;
}

/**
 * Starts writing `spec` every `spec.periodMs` from the shared worker; `beat`
 * is told of each write that succeeded. `started` settles at the first one,
 * or after `startMs`.
 */
export function startHeartbeat(spec: BeatSpec, startMs: number, beat?: () => void): Heartbeat {
  const module = modulePath(spec.kind);
  const w = shared();
  const id = nextId++;
  const first = heldUntil(w, startMs);
  onBeat.set(id, () => {
    first.settle();
    beat?.();
  });
  w.postMessage({ op: 'start', id, spec, module });
  let stopping: Promise<void> | undefined;
  return {
    started: first.done,
    stop(ms) {
      if (stopping) return stopping;
      first.settle();
      const stop = heldUntil(w, ms);
      onStopped.set(id, stop.settle);
      w.postMessage({ op: 'stop', id });
      stopping = stop.done.then(() => {
        onStopped.delete(id);
        onBeat.delete(id);
      });
      return stopping;
    },
  };
}
