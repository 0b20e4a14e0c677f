import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { FmiError, init, Op, RendezvousServer, type Communicator } from '../../src/index.js';
import { parseEndpoint } from '../../src/rendezvous/protocol.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = `${root}dist/cli/main.js`;

/** What `p` settles to within `ms`: its error's code, 'resolved', or 'still running' (what a silent "no timeout" looks like). */
async function outcome(p: Promise<unknown> | (() => unknown), ms = 1500): Promise<string> {
  let promise: Promise<unknown>;
  try {
    promise = typeof p === 'function' ? Promise.resolve(p()) : p;
  } catch (err) {
    promise = Promise.reject(err);
  }
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    promise.then(
      () => 'resolved',
      (e: unknown) => (e instanceof FmiError ? e.code : `untyped ${(e as Error)?.name}: ${(e as Error)?.message}`),
    ),
    new Promise<string>((res) => (timer = setTimeout(() => res('still running'), ms))),
  ]);
  clearTimeout(timer);
  return r;
}

function detached(): Float64Array {
  const a = new Float64Array(4);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

async function solo<T>(fn: (c: Communicator) => Promise<T>): Promise<T> {
  const c = await init({ size: 1, env: {} });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

describe('arguments - bad values are typed errors', () => {
  it('timeoutMs that is NaN, a string or negative is MPI_ERR_ARG, not "no timeout"', async () => {
    await solo(async (c) => {
      for (const timeoutMs of [NaN, '100', -1, null, {}] as unknown as number[]) {
        expect(await outcome(c.recv(0, { timeoutMs }))).toBe('MPI_ERR_ARG');
        expect(await outcome(c.probe(0, { timeoutMs }))).toBe('MPI_ERR_ARG');
        expect(await outcome(c.send(1, 0, { timeoutMs }))).toBe('MPI_ERR_ARG');
        expect(await outcome(() => c.allreduce(1, Op.SUM, { timeoutMs }))).toBe('MPI_ERR_ARG');
        expect(await outcome(() => c.barrier({ timeoutMs }))).toBe('MPI_ERR_ARG');
      }
      expect(await outcome(c.recv(0, { signal: 'stop' as unknown as AbortSignal }))).toBe('MPI_ERR_ARG');
      // Infinity still means no timeout; 0 times out at once.
      expect(await outcome(c.recv(0, { timeoutMs: Infinity }), 300)).toBe('still running');
      expect(await outcome(c.recv(0, { timeoutMs: 0 }))).toBe('FMI_TIMEOUT');
      // The communicator is fine afterwards.
      expect(await c.allreduce(2, Op.SUM)).toBe(2);
    });
    for (const timeoutMs of [NaN, '5' as unknown as number]) expect(await outcome(init({ size: 1, env: {}, timeoutMs }))).toBe('MPI_ERR_ARG');
  });

  it('a port out of range is FMI_CONFIG, where ranks dial and where the server listens', async () => {
    const job = randomUUID();
    expect(await outcome(init({ rank: 0, size: 2, job, env: {}, rendezvous: '127.0.0.1:99999' }))).toBe('FMI_CONFIG');
    expect(await outcome(init({ rank: 0, size: 2, job, env: {}, rendezvous: { host: '127.0.0.1', port: 99999 } }))).toBe('FMI_CONFIG');
    expect(await outcome(init({ rank: 0, size: 2, job, env: { FMI_RENDEZVOUS: 'localhost:0' } }))).toBe('FMI_CONFIG');
    expect(await outcome(() => new RendezvousServer({ port: 99999 }))).toBe('FMI_CONFIG');
    expect(await outcome(() => new RendezvousServer({ port: -1 }))).toBe('FMI_CONFIG');
    expect(await outcome(() => new RendezvousServer({ idleTimeoutMs: NaN }))).toBe('FMI_CONFIG');
    expect(() => parseEndpoint('[::1]:65536')).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
    expect(parseEndpoint('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
  });

  it('a detached ArrayBuffer as data or as `into` is MPI_ERR_ARG', async () => {
    await solo(async (c) => {
      expect(await outcome(c.send(detached(), 0))).toBe('MPI_ERR_ARG');
      expect(await outcome(c.isend(detached(), 0).wait())).toBe('MPI_ERR_ARG');
      await c.send(new Float64Array(0), 0);
      expect(await outcome(c.recv(0, { into: detached() }))).toBe('MPI_ERR_ARG');
      expect(await outcome(() => c.allreduce(new Float64Array(0), Op.SUM, { into: detached() }))).toBe('MPI_ERR_ARG');
      // The message was not taken by the failed receive; an empty array (not detached) is fine.
      expect(await c.recv(0, { into: new Float64Array(0) })).toEqual(new Float64Array(0));
    });
  });

  it('a message over 4 GiB is MPI_ERR_COUNT up front, to a peer, to itself and in collectives', async () => {
    // 4 GiB + 8 bytes of untouched (lazily zeroed) memory: Node 20 cannot even make a byte view of it.
    const big = new Float64Array(2 ** 29 + 1);
    const server = new RendezvousServer();
    const rendezvous = await server.listen();
    const job = randomUUID();
    const comms = await Promise.all([0, 1].map((rank) => init({ rank, size: 2, job, rendezvous, env: {} })));
    try {
      const [c0, c1] = comms as [Communicator, Communicator];
      expect(await outcome(c0.send(big, 1))).toBe('MPI_ERR_COUNT');
      expect(await outcome(c0.send(big, 0))).toBe('MPI_ERR_COUNT');
      expect(await outcome(c0.isend(big, 1).wait())).toBe('MPI_ERR_COUNT');
      expect(await outcome(() => c0.allreduce(big, Op.SUM))).toBe('MPI_ERR_COUNT');
      const both = await Promise.all([outcome(() => c0.bcast(big, 0)), outcome(() => c1.bcast(undefined, 0))]);
      expect(both).toEqual(['MPI_ERR_COUNT', 'MPI_ERR_COUNT']);
      // Nothing went out: the pair still works.
      const [, got] = await Promise.all([c0.send(new Float64Array([7]), 1), c1.recv(0)]);
      expect(got).toEqual(new Float64Array([7]));
    } finally {
      await Promise.all(comms.map((c) => c.close()));
      await server.close();
    }
  });

  it('recv, irecv and probe without a tag take any tag (as the README says), send sends tag 0', async () => {
    await solo(async (c) => {
      await c.send('seven', 0, { tag: 7 });
      expect((await c.probe(0)).tag).toBe(7);
      expect(await c.recv(0)).toBe('seven');
      await c.send('nine', 0, { tag: 9 });
      expect(await c.irecv(0).wait()).toBe('nine');
      await c.send('zero', 0);
      expect(await c.recv(0, { tag: 0 })).toBe('zero');
    });
  });

  it("allreduce's algorithm must be one it knows", async () => {
    await solo(async (c) => {
      for (const algorithm of ['bogus', 'RING', 3, null] as unknown as 'ring'[]) {
        expect(await outcome(() => c.allreduce(new Float64Array(4), Op.SUM, { algorithm }))).toBe('MPI_ERR_ARG');
      }
      expect(await c.allreduce(3, Op.SUM, { algorithm: 'recursive-doubling' })).toBe(3);
    });
  });

  it('a collective without an op is a typed error, not a TypeError', async () => {
    await solo(async (c) => {
      for (const op of [undefined, null, 'sum', {}] as unknown as Op[]) {
        expect(await outcome(() => c.allreduce(new Float64Array(4), op))).toMatch(/^MPI_ERR_/);
        expect(await outcome(() => c.allreduce(1, op))).toMatch(/^MPI_ERR_/);
        expect(await outcome(() => c.reduce(new Float64Array(4), op, 0))).toMatch(/^MPI_ERR_/);
      }
    });
  });
});

describe('arguments - fmi clean with a backend down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmi-clean-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one clear line per backend that is down and exits non-zero', async () => {
    // A port nothing listens on: taken, then freed.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const config = join(dir, 'down.json');
    writeFileSync(
      config,
      JSON.stringify({
        backends: {
          Redis: { enabled: true, host: '127.0.0.1', port },
          S3: { enabled: true, bucket_name: 'b', s3_region: 'us-east-1', endpoint: `http://127.0.0.1:${port}` },
        },
      }),
    );
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, 'clean', '--job', 'j1', '--config', config], {
        env: { ...process.env, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      let stderr = '';
      p.stderr.on('data', (d) => (stderr += d));
      p.on('exit', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^fmi clean: redis at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`)),
      expect.stringMatching(new RegExp(`^fmi clean: s3 bucket b at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`)),
    ]);
  });
});
