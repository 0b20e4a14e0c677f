import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServerMessage } from '../../src/rendezvous/messages.js';
import type { Endpoint } from '../../src/index.js';
import { bytesCodec, corpus, describeReport, fuzzMs, fuzzSeed, Rng, save, type FuzzReport } from './engine.js';
import { mutateBytes, mutateJson, type Json } from './mutate.js';

// The rendezvous protocol, fuzzed as a client would: mutated lines of real
// exchanges sent on real sockets to `fmi rendezvous` in a process of its own
// (a crash kills that process, not the test). Each input is one connection's
// lines; inputs go in batches, and after each batch a valid rank must still
// register. A batch that broke the server is replayed input by input on a
// fresh server, to name the input that did it.

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const BATCH = 16;

/** Messages of a real two-rank job (register, pair, bye), as ranks send them. */
const RECORDED: Json[] = [
  { t: 'register', job: 'job-a', rank: 0, size: 2 },
  { t: 'register', job: 'job-a', rank: 1, size: 2 },
  { t: 'pair', job: 'job-a', from: 1, to: 0, priv: [{ host: '127.0.0.1', port: 40001 }] },
  // A job with a secret: a proof, and the key a first registration enrolls with.
  { t: 'register', job: 'job-s', rank: 0, size: 2, proof: 'q8RZ0kYh1VY6n5m2o1l3k4j5h6g7f8e9d0c1b2a3Z4Y=' },
  { t: 'enroll', key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' },
  { t: 'pair', job: 'job-s', from: 0, to: 1, priv: [], proof: 'q8RZ0kYh1VY6n5m2o1l3k4j5h6g7f8e9d0c1b2a3Z4Y=' },
  { t: 'pair', job: 'job-a', from: 0, to: 1, priv: [{ host: '10.0.0.5', port: 40002 }, { host: '192.168.1.9', port: 40002 }] },
  { t: 'bye' },
];

const target = { name: 'rendezvous-lines', codec: bytesCodec };
const NL = Buffer.from('\n');

/** One connection's bytes: one to three recorded messages, mutated as JSON or as bytes. */
function generate(rng: Rng): Buffer {
  const n = 1 + rng.int(3);
  const parts: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const seed = rng.pick(RECORDED);
    const text = (v: Json) => Buffer.from(JSON.stringify(v));
    if (rng.chance(0.1)) parts.push(text(seed));
    else if (rng.chance(0.8)) parts.push(text(mutateJson(rng, seed)));
    else parts.push(mutateBytes(rng, text(seed), text(rng.pick(RECORDED))));
    if (i < n - 1 || rng.chance(0.9)) parts.push(NL);
  }
  return Buffer.concat(parts);
}

interface Server {
  child: ChildProcess;
  ep: Endpoint;
}

const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, [cli, 'rendezvous', '--port', '0', '--host', '127.0.0.1', '--quiet', '--health-interval', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  child.stderr!.resume();
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on .+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`fmi rendezvous exited: ${out}`)));
  });
  return { child, ep: { host: '127.0.0.1', port } };
}

/** Sends one input on its own connection; resolves to what is wrong with the answer, if anything. */
function send(ep: Endpoint, input: Buffer, timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect(ep);
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(`no close within ${timeoutMs} ms`);
    }, timeoutMs);
    s.on('connect', () => s.end(input));
    s.on('data', (d) => (got += d));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      for (const line of got.split('\n').filter(Boolean)) {
        let m: unknown;
        try {
          m = JSON.parse(line);
        } catch {
          return resolve(`answered a line that is not JSON: ${line}`);
        }
        const parsed = parseServerMessage(m);
        if (typeof parsed === 'string') return resolve(`answered a bad message (${parsed}): ${line}`);
      }
      resolve(undefined);
    });
  });
}

/** Whether the server is alive and registers a valid rank. */
async function alive(s: Server): Promise<boolean> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return false;
  return new Promise((resolve) => {
    const c = connect(s.ep);
    const t = setTimeout(() => done(false), 5000);
    const done = (ok: boolean) => {
      clearTimeout(t);
      c.destroy();
      resolve(ok);
    };
    c.on('connect', () => c.write(`${JSON.stringify({ t: 'register', job: `probe-${Math.random()}`, rank: 0, size: 1 })}\n`));
    // The server greets with its nonce ({"t":"challenge"}); the registration's answer follows.
    let got = '';
    c.on('data', (d) => {
      got += d;
      if (got.includes('{"t":"registered"}')) done(true);
    });
    c.on('error', () => done(false));
    c.on('close', () => done(false));
  });
}

/** Runs inputs in one batch; returns the inputs that broke the server (found by replaying one by one). */
async function runBatch(server: { s: Server }, inputs: Buffer[]): Promise<{ input: Buffer; error: string }[]> {
  const answers = await Promise.all(inputs.map((i) => send(server.s.ep, i)));
  const bad = answers.flatMap((a, k) => (a === undefined ? [] : [{ input: inputs[k]!, error: a }]));
  if (await alive(server.s)) return bad;
  // Replay one by one on a fresh server, restarting it after each input that kills it.
  server.s.child.kill('SIGKILL');
  const culprits: { input: Buffer; error: string }[] = [];
  server.s = await startServer();
  for (const input of inputs) {
    const a = await send(server.s.ep, input);
    if (await alive(server.s)) continue;
    culprits.push({ input, error: `the server died${a ? `; ${a}` : ''}` });
    server.s.child.kill('SIGKILL');
    server.s = await startServer();
  }
  return [...bad, ...culprits];
}

describe('fuzz - rendezvous protocol', () => {
  it('no line a client sends crashes or hangs the server, and every answer is a valid message', async () => {
    const seed = fuzzSeed();
    const rng = new Rng(seed);
    const t0 = performance.now();
    const server = { s: await startServer() };
    const stored = corpus(target);
    const report: FuzzReport = { target: target.name, seed, runs: 0, replayed: stored.length, crashes: [], ms: 0 };
    for (const c of await runBatch(server, stored.map((x) => x.input))) report.crashes.push({ file: stored.find((x) => x.input === c.input)!.file, error: c.error });
    // The budget starts after the server and the corpus, and at least one batch runs however loaded the machine is.
    const t1 = performance.now();
    do {
      const inputs = Array.from({ length: BATCH }, () => generate(rng));
      report.runs += inputs.length;
      for (const c of await runBatch(server, inputs)) report.crashes.push({ file: save(target, c.input), error: c.error });
    } while (performance.now() - t1 < fuzzMs() && report.crashes.length < 5);
    report.ms = Math.round(performance.now() - t0);
    server.s.child.kill('SIGKILL');
    console.log(describeReport(report));
    expect(report.runs).toBeGreaterThan(0);
    expect(report.crashes).toEqual([]);
  });
});
