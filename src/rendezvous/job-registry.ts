import type { Socket } from 'node:net';
import { checkRequest, decodeKey, NOT_AUTHORIZED, sameKey } from './auth.js';
import { hangUp } from './connection-caps.js';
import { launch, tellLauncher, type Job } from './launcher-jobs.js';
import { writeLine, type ClientMessage } from './protocol.js';

export type Register = Extract<ClientMessage, { t: 'register' }>;
export type Launch = Extract<ClientMessage, { t: 'launch' }>;

export interface JobRegistryOptions {
  maxJobs: number;
  maxRanksPerJob: number;
  requireSecret?: boolean;
  log?: (line: string) => void;
  /**
   * How long a job whose every registered rank left is remembered while some
   * of its ranks never registered: a rank that registers late still hears who
   * left (else it would wait for them until its connect timeout).
   */
  pairTimeoutMs: number;
  /** `rank` of `job` registered: the ranks that asked to pair with it before. */
  registered(job: string, rank: number): number[];
}

/** A first registration (of a rank or a launcher) waiting for its job's verifier. */
interface Enrolling {
  m: Register | Launch;
  nonce: string;
}

/**
 * The jobs the server knows: who registered for which job under which key.
 * A job's first registration fixes its size and whether it has a secret (the
 * client then sends the key it proved with: the job's verifier); every later
 * one must prove the same key, agree on the size and take a rank that no live
 * connection holds. A launcher registers the same way (launcher-jobs.ts).
 */
export class JobRegistry {
  readonly #jobs = new Map<string, Job>();
  readonly #enrolling = new WeakMap<Socket, Enrolling>();
  /** Jobs with no connection left, remembered for their late ranks (oldest first), and the timer that forgets each. */
  readonly #retained = new Map<string, NodeJS.Timeout>();
  readonly #o: JobRegistryOptions;

  constructor(o: JobRegistryOptions) {
    this.#o = o;
  }

  get(job: string): Job | undefined {
    return this.#jobs.get(job);
  }

  /** How many jobs, and ranks registered in all. */
  counts(): { jobs: number; ranks: number } {
    let ranks = 0;
    for (const j of this.#jobs.values()) ranks += j.ranks.size;
    return { jobs: this.#jobs.size, ranks };
  }

  /**
   * Why this registration is refused before its proof is checked: only what
   * says nothing of the job (a job too large, one job too many). Whether the
   * size agrees with the job's is told only to a rank that proved the secret.
   */
  check(job: string, size: number): string | undefined {
    if (size > this.#o.maxRanksPerJob) return `job size ${size} is above this server's limit of ${this.#o.maxRanksPerJob} ranks`;
    // A live job goes before a remembered one: the oldest of those makes room.
    if (!this.#jobs.has(job) && this.#jobs.size >= this.#o.maxJobs) {
      const oldest = this.#retained.keys().next();
      if (!oldest.done) this.forget(oldest.value);
    }
    if (!this.#jobs.has(job) && this.#jobs.size >= this.#o.maxJobs) return `too many jobs (${this.#o.maxJobs}); try again later`;
    return undefined;
  }

  /** A rank (or a launcher) joins its job, proving its key; a new job with a key is asked for its verifier first. */
  register(m: Register | Launch, nonce: string, socket: Socket): void {
    const { proof, ...body } = m;
    const j = this.#jobs.get(m.job);
    if (!j) {
      if (proof !== undefined) {
        this.#enrolling.set(socket, { m, nonce });
        writeLine(socket, { t: 'enroll' });
        return;
      }
      if (this.#o.requireSecret) return hangUp(socket, 'this rendezvous server requires a job secret (FMI_SECRET)');
      return this.#admitAny(m, socket, undefined);
    }
    // A job with a secret takes only proofs of it; a job without one only requests without.
    const ok = checkRequest(j.verifier, nonce, body, proof);
    if (j.verifier ? !ok : proof !== undefined) return hangUp(socket, NOT_AUTHORIZED);
    this.#admitAny(m, socket, j.verifier);
  }

  /** The key a job's first registration proved with becomes the job's verifier. */
  enroll(rawKey: unknown, socket: Socket): void {
    const e = this.#enrolling.get(socket);
    this.#enrolling.delete(socket);
    const key = decodeKey(rawKey);
    const { proof, ...body } = e?.m ?? {};
    if (!e || !key || !checkRequest(key, e.nonce, body, proof)) return hangUp(socket, NOT_AUTHORIZED);
    // Another rank may have enrolled the job meanwhile: then this key must be its key.
    const j = this.#jobs.get(e.m.job);
    if (j && !(j.verifier && sameKey(j.verifier, key))) return hangUp(socket, NOT_AUTHORIZED);
    this.#admitAny(e.m, socket, key);
  }

  /** A rank's control connection ended: its peers, the launcher and ranks that register later hear it. */
  unregister(job: string, rank: number, socket: Socket, clean: boolean): void {
    const j = this.#jobs.get(job);
    if (!j || j.ranks.get(rank) !== socket) return;
    j.ranks.delete(rank);
    for (const other of j.ranks.values()) writeLine(other, { t: 'gone', rank, clean });
    (j.left ??= new Map()).set(rank, clean);
    tellLauncher(j, { t: 'gone', rank, clean });
    if (j.ranks.size === 0 && !j.launcher) {
      // Every rank that came has left: if all have (or were given up: they are refused), the job is over; else one may still come.
      let over = j.left.size;
      for (const r of j.aborted ?? []) if (!j.left.has(r)) over++;
      if (over >= j.size) this.forget(job);
      else this.#retain(job);
    }
    this.#o.log?.(`job ${job}: rank ${rank} ${clean ? 'left' : 'lost'}`);
  }

  /** The job is left with nothing: forget it. */
  forget(job: string): void {
    clearTimeout(this.#retained.get(job));
    this.#retained.delete(job);
    this.#jobs.delete(job);
  }

  /** Forgets every remembered job (the server is closing). */
  clear(): void {
    for (const t of this.#retained.values()) clearTimeout(t);
    this.#retained.clear();
  }

  #retain(job: string): void {
    const timer = setTimeout(() => this.forget(job), this.#o.pairTimeoutMs);
    timer.unref();
    this.#retained.set(job, timer);
  }

  #admitAny(m: Register | Launch, socket: Socket, verifier: Buffer | undefined): void {
    const { job, size } = m;
    let j = this.#jobs.get(job);
    if (!j) {
      j = { ranks: new Map(), size, verifier };
      this.#jobs.set(job, j);
    }
    if (this.#retained.has(job)) {
      clearTimeout(this.#retained.get(job));
      this.#retained.delete(job);
    }
    if (m.t === 'launch') {
      if (size !== j.size) return hangUp(socket, `the launcher says job ${job} has ${size} ranks; its ranks said ${j.size}`);
      return launch(j, job, socket, this.#o.log);
    }
    const { rank } = m;
    if (size !== j.size) return hangUp(socket, `rank ${rank} says job ${job} has ${size} ranks; its other ranks said ${j.size}`);
    // The rank's live connection stays: a second one is refused, never swapped in.
    if (j.ranks.has(rank)) return hangUp(socket, `rank ${rank} of this job is already registered (a rank registers once while its connection lives)`);
    // A launched rank runs once: a second invocation of it (a retry) must not join.
    if (j.launched && j.left?.has(rank)) return hangUp(socket, `rank ${rank} of this job has already run (its launcher starts each rank once)`);
    if (j.aborted?.has(rank)) return hangUp(socket, `rank ${rank} of this job was given up by its launcher`);
    j.ranks.set(rank, socket);
    // Without a launcher a rank may come back: later ranks must not hear it left.
    j.left?.delete(rank);
    writeLine(socket, { t: 'registered' });
    for (const a of j.aborted ?? []) writeLine(socket, { t: 'gone', rank: a, clean: false });
    for (const [r, clean] of j.left ?? []) writeLine(socket, { t: 'gone', rank: r, clean });
    tellLauncher(j, { t: 'joined', rank });
    // Pairing requests that came before this rank registered.
    for (const from of this.#o.registered(job, rank)) writeLine(socket, { t: 'want', from });
    this.#o.log?.(`job ${job}: rank ${rank}/${size} registered${verifier ? '' : ' (no secret)'}`);
  }
}
