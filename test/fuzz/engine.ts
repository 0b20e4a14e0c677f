import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// A seeded, time-bounded mutation fuzzer, small on purpose: a generator is a
// function of a random source (as fast-check's arbitraries are), a target
// is a function that throws on a crash (as a fast-check property does), so a
// switch to fast-check is `fc.assert(fc.property(arbitrary, target), { seed,
// interruptAfterTimeLimit })` with the generators wrapped in fc.nat().map().
//
// Every input that crashes a target is written to test/fuzz/corpus/<target>/
// and the corpus is replayed first on every run (CI included), so a crash
// once found stays a test.

/** mulberry32: a fast 32-bit PRNG, enough to make runs repeatable from one seed. */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
}

/** How a target's inputs are stored in the corpus and shown in failures. */
export interface Codec<T> {
  ext: string;
  encode(input: T): Buffer;
  decode(bytes: Buffer): T;
}

export const bytesCodec: Codec<Buffer> = { ext: 'bin', encode: (b) => b, decode: (b) => b };
export const textCodec: Codec<string> = { ext: 'txt', encode: (s) => Buffer.from(s, 'utf8'), decode: (b) => b.toString('utf8') };

export interface FuzzTarget<T> {
  /** Names the corpus folder. */
  name: string;
  codec: Codec<T>;
  /** A new input from the random source (usually a mutation of a recorded one). */
  generate(rng: Rng): T;
  /** Throws (or rejects) when `input` crashes what is fuzzed. */
  run(input: T): void | Promise<void>;
}

export interface FuzzReport {
  target: string;
  seed: number;
  runs: number;
  replayed: number;
  crashes: { file: string; error: string }[];
  ms: number;
}

const CORPUS = fileURLToPath(new URL('./corpus/', import.meta.url));

/** The seed of this run: FMI_FUZZ_SEED, or a new one (printed with the report, to replay a run). */
export function fuzzSeed(): number {
  const s = process.env.FMI_FUZZ_SEED;
  return s ? Number(s) >>> 0 : (Math.random() * 0x1_0000_0000) >>> 0;
}

/** How long each target fuzzes: FMI_FUZZ_MS, default 3 s (CI's bound). */
export function fuzzMs(): number {
  return Number(process.env.FMI_FUZZ_MS ?? 3000);
}

/** The stored crash inputs of a target. */
export function corpus<T>(t: Pick<FuzzTarget<T>, 'name' | 'codec'>): { file: string; input: T }[] {
  const dir = join(CORPUS, t.name);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(`.${t.codec.ext}`))
    .sort()
    .map((f) => ({ file: join(dir, f), input: t.codec.decode(readFileSync(join(dir, f))) }));
}

/**
 * Replays the corpus, then runs generated inputs until `ms` passed. Inputs
 * that crash are saved to the corpus and reported; the caller fails the test
 * on any.
 */
export async function fuzz<T>(t: FuzzTarget<T>, opts: { seed?: number; ms?: number; maxCrashes?: number } = {}): Promise<FuzzReport> {
  const seed = opts.seed ?? fuzzSeed();
  const ms = opts.ms ?? fuzzMs();
  const rng = new Rng(seed);
  const crashes: FuzzReport['crashes'] = [];
  const t0 = performance.now();
  const stored = corpus(t);
  for (const { file, input } of stored) {
    const err = await attempt(t, input);
    if (err !== undefined) crashes.push({ file, error: err });
  }
  let runs = 0;
  const t1 = performance.now();
  do {
    const input = t.generate(rng);
    runs++;
    const err = await attempt(t, input);
    if (err !== undefined) crashes.push({ file: save(t, input), error: err });
  } while (performance.now() - t1 < ms && crashes.length < (opts.maxCrashes ?? 5));
  return { target: t.name, seed, runs, replayed: stored.length, crashes, ms: Math.round(performance.now() - t0) };
}

async function attempt<T>(t: FuzzTarget<T>, input: T): Promise<string | undefined> {
  try {
    await t.run(input);
    return undefined;
  } catch (err) {
    return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
}

/** Writes a crash input to the target's corpus; returns the file. */
export function save<T>(t: Pick<FuzzTarget<T>, 'name' | 'codec'>, input: T): string {
  const bytes = t.codec.encode(input);
  const dir = join(CORPUS, t.name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${t.codec.ext}`);
  writeFileSync(file, bytes);
  return file;
}

/** One line for the test log: what ran and what crashed. */
export function describeReport(r: FuzzReport): string {
  const head = `fuzz ${r.target}: ${r.runs} inputs + ${r.replayed} from the corpus in ${r.ms} ms (seed ${r.seed}), ${r.crashes.length} crashes`;
  return [head, ...r.crashes.map((c) => `  ${c.file}: ${c.error}`)].join('\n');
}
