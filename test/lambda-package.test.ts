import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FmiError, RendezvousServer } from '../src/index.js';
import { packageLambda } from '../src/cli/lambda-package.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;
const work = mkdtempSync(join(tmpdir(), 'fmi-lambda-pkg-'));
/** The handler lives outside the project: its `import 'fmi'` finds no node_modules and must resolve to this fmi. */
const entry = join(work, 'src', 'handler.mjs');
const zipPath = join(work, 'function.zip');
/** Where the zip is unpacked, as Lambda unpacks it into /var/task. */
const task = join(work, 'task');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd: opts.cwd ?? root, env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One rank: plain node imports the unpacked index.mjs in `dir` and calls its handler, with nothing but PATH and the FMI_* variables. */
function rank(env: Record<string, string>, dir = task, event: object = { tag: 'hi' }): Promise<Ran> {
  const index = pathToFileURL(join(dir, 'index.mjs')).href;
  const body = `const m = await import(${JSON.stringify(index)}); console.log(JSON.stringify(await m.handler(${JSON.stringify(event)})));`;
  return run(['--input-type=module', '-e', body], { cwd: dir, env: { PATH: process.env.PATH, ...env } });
}

function unzipInto(zip: string, dir: string): void {
  mkdirSync(dir);
  for (const [name, data] of Object.entries(unzipSync(readFileSync(zip)))) writeFileSync(join(dir, name), data);
}

function ancestorsWithNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(d);
    if (dirname(d) === d) return found;
  }
}

let packaged: Ran;

beforeAll(async () => {
  mkdirSync(dirname(entry), { recursive: true });
  copyFileSync(`${root}test/fixtures/lambda-entry.mjs`, entry);
  writeFileSync(join(work, 'src', 'data.json'), '{"n": 1}');
  packaged = await run([cli, 'lambda', 'package', entry, '-o', zipPath, '--include', join(work, 'src', 'data.json')]);
  if (packaged.code === 0) unzipInto(zipPath, task);
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('lambda package - the zip', () => {
  it('holds index.mjs with a handler, its chunks, the Wasm kernels, ioredis and the included file, under 5 MB, and prints its size', () => {
    expect(packaged.stderr).toBe('');
    expect(packaged.code).toBe(0);
    const bytes = readFileSync(zipPath).byteLength;
    expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    expect(packaged.stdout).toContain(`function.zip: `);
    expect(packaged.stdout).toContain(`(${bytes} bytes)`);
    const names = readdirSync(task);
    expect(names).toEqual(expect.arrayContaining(['index.mjs', 'kernels.wasm', 'kernels-unshared.wasm', 'fmi-ioredis.cjs', 'data.json']));
    expect(readFileSync(join(task, 'data.json'), 'utf8')).toBe('{"n": 1}');
    // Flat: chunks find the Wasm and ioredis beside them.
    expect(names.every((n) => /^[\w.-]+\.(mjs|wasm|cjs|json)$/.test(n))).toBe(true);
  });

  it('leaves the AWS SDK out: imported from the runtime, not bundled', () => {
    const code = readdirSync(task)
      .filter((n) => n.endsWith('.mjs') || n.endsWith('.cjs'))
      .map((n) => readFileSync(join(task, n), 'utf8'))
      .join('\n');
    expect(code).toMatch(/from"@aws-sdk\/client-s3"/);
    // The SDK's own code is built on @smithy/* packages; none of it is in.
    expect(code).not.toMatch(/smithy/i);
    expect(readdirSync(task).some((n) => n.includes('aws'))).toBe(false);
  });

  it('is the same bytes when packaged again (fixed dates), so deployments see no change', async () => {
    const again = join(work, 'again.zip');
    const r = await run([cli, 'lambda', 'package', entry, '-o', again, '--include', join(work, 'src', 'data.json')]);
    expect(r.code).toBe(0);
    expect(readFileSync(again).equals(readFileSync(zipPath))).toBe(true);
  });
});

describe('lambda package - the bundle runs with no node_modules', () => {
  it('nothing the ranks could load from: no node_modules above the unpacked zip', () => {
    expect(ancestorsWithNodeModules(task)).toEqual([]);
  });

  it('two ranks allreduce over the direct channel through the Wasm kernels', async () => {
    const server = new RendezvousServer({ requireSecret: true, host: '127.0.0.1', port: 0 });
    const addr = await server.listen();
    const env = { FMI_SIZE: '2', FMI_JOB: randomUUID(), FMI_RENDEZVOUS: `${addr.host}:${addr.port}`, FMI_SECRET: randomBytes(32).toString('base64') };
    try {
      const ranks = await Promise.all([0, 1].map((r) => rank({ ...env, FMI_RANK: String(r) })));
      for (const [r, ran] of ranks.entries()) {
        expect(ran.stderr).toBe('');
        expect(ran.code).toBe(0);
        expect(JSON.parse(ran.stdout)).toEqual({ rank: r, size: 2, sum: 3, last: 3, tag: 'hi' });
      }
    } finally {
      await server.close();
    }
  });

  describe('over Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis?.stop());

    it('two ranks allreduce, the heartbeat worker loading the ioredis beside the bundle', async () => {
      const config = join(work, 'fmi-redis.json');
      writeFileSync(config, JSON.stringify({ backends: { Redis: { enabled: true, host: '127.0.0.1', port: redis.port } } }));
      const env = { FMI_SIZE: '2', FMI_JOB: randomUUID(), FMI_CONFIG: config, FMI_CHANNEL: 'redis' };
      const ranks = await Promise.all([0, 1].map((r) => rank({ ...env, FMI_RANK: String(r) })));
      for (const [r, ran] of ranks.entries()) {
        expect(ran.stderr).toBe('');
        expect(ran.code).toBe(0);
        expect(JSON.parse(ran.stdout)).toEqual({ rank: r, size: 2, sum: 3, last: 3, tag: 'hi' });
      }
    });
  });
});

describe('lambda package - an fmi cc program included beside the bundle', () => {
  it('two ranks run it through fmi/mpi (the pack kernels load kernels-unshared.wasm from the zip)', async () => {
    const dir = join(work, 'mpi');
    mkdirSync(dir);
    const cc = await run([cli, 'cc', `${root}test/mpi/derived.c`, '-o', join(dir, 'derived.js')]);
    expect(cc.code, cc.stderr).toBe(0);
    const entry = join(dir, 'handler.mjs');
    copyFileSync(`${root}test/fixtures/lambda-program-entry.mjs`, entry);
    const zip = join(dir, 'program.zip');
    const p = await run([cli, 'lambda', 'package', entry, '-o', zip, '--include', `${join(dir, 'derived.js')},${join(dir, 'derived.wasm')}`]);
    expect(p.code, p.stderr).toBe(0);
    const unpacked = join(dir, 'task');
    unzipInto(zip, unpacked);
    const server = new RendezvousServer({ host: '127.0.0.1', port: 0 });
    const addr = await server.listen();
    const env = { FMI_SIZE: '2', FMI_JOB: randomUUID(), FMI_RENDEZVOUS: `${addr.host}:${addr.port}` };
    try {
      const ranks = await Promise.all([0, 1].map((r) => rank({ ...env, FMI_RANK: String(r) }, unpacked, { program: 'derived.js' })));
      for (const [r, ran] of ranks.entries()) {
        expect(ran.code, ran.stderr).toBe(0);
        const result = JSON.parse(ran.stdout) as { rank: number; code: number; out: string[] };
        expect(result.code, result.out.join('\n')).toBe(0);
        if (r === 0) expect(result.out).toContain('PASS derived on 2 ranks');
      }
    } finally {
      await server.close();
    }
    // fmi cc (emcc) alone took 13 s at a load average of 45; the whole case went past 60 s twice there.
  }, 240_000);
});

describe('lambda package - a handler of two ranks per function (ranksPerFunction)', () => {
  it('its worker threads load index.mjs again, as Lambda names it in _HANDLER, and allreduce over shared memory', async () => {
    const dir = join(work, 'threads');
    mkdirSync(dir);
    const zip = join(dir, 'threads.zip');
    const p = await run([cli, 'lambda', 'package', `${root}test/lambda/fixtures/threads-handler.mjs`, '-o', zip]);
    expect(p.code, p.stderr).toBe(0);
    const unpacked = join(dir, 'task');
    unzipInto(zip, unpacked);
    const ran = await rank({ _HANDLER: 'index.handler', LAMBDA_TASK_ROOT: unpacked }, unpacked, { fmi: { rank: 0, size: 2, job: randomUUID(), ranksPerFunction: 2 } });
    expect(ran.code, ran.stderr).toBe(0);
    const out = JSON.parse(ran.stdout.split('\n').filter((l) => l.startsWith('{')).at(-1)!) as { ok: boolean; ranks: { rank: number; ok: boolean; result: { sum: number } }[] };
    expect(out.ranks.map((r) => [r.rank, r.ok, r.result.sum])).toEqual([
      [0, true, 1],
      [1, true, 1],
    ]);
    expect(ran.stdout).toContain('[1] rank 1 runs');
  }, 120_000);
});

describe('lambda package - minified without keepNames, errors keep their names', () => {
  it("each error class, made by the handler or thrown by fmi, has its name, code and class, and no closure pays for a name", async () => {
    const dir = join(work, 'errors');
    mkdirSync(dir);
    const zip = join(dir, 'errors.zip');
    const p = await run([cli, 'lambda', 'package', `${root}test/lambda/fixtures/errors-handler.mjs`, '-o', zip]);
    expect(p.code, p.stderr).toBe(0);
    const unpacked = join(dir, 'task');
    unzipInto(zip, unpacked);
    const code = readdirSync(unpacked).filter((n) => n.endsWith('.mjs')).map((n) => readFileSync(join(unpacked, n), 'utf8'));
    // keepNames's __name helper, minified: `(b,a)=>d(b,"name",{value:a,configurable:!0})`, called for every named function.
    expect(code.join('\n')).not.toMatch(/"name",\{value:[\w$]+,configurable:!0\}/);
    const ran = await rank({}, unpacked, {});
    expect(ran.code, ran.stderr).toBe(0);
    type Seen = { name: string; code: string; fmiError: boolean; own: boolean; reported: string; stack: string };
    const out = JSON.parse(ran.stdout) as { made: Record<string, Seen>; thrown: Record<string, Seen> };
    const codes: Record<string, string> = {
      TimeoutError: 'FMI_TIMEOUT',
      AbortError: 'FMI_ABORTED',
      PeerLostError: 'FMI_PEER_LOST',
      ChannelError: 'FMI_CHANNEL',
      TruncateError: 'MPI_ERR_TRUNCATE',
      ClosedError: 'FMI_CLOSED',
      MismatchError: 'FMI_MISMATCH',
      RankTakenError: 'FMI_RANK_TAKEN',
      FmiError: 'FMI_CONFIG',
    };
    const seen = (name: string, code: string): Seen => ({ name, code, fmiError: true, own: true, reported: code, stack: expect.stringMatching(new RegExp(`^${name}: ${code}: `)) as unknown as string });
    expect(out.made).toEqual(Object.fromEntries(Object.entries(codes).map(([name, code]) => [name, seen(name, code)])));
    expect(out.thrown).toEqual({
      badRank: seen('FmiError', 'MPI_ERR_RANK'),
      timeout: seen('TimeoutError', 'FMI_TIMEOUT'),
      config: seen('FmiError', 'FMI_CONFIG'),
      closed: seen('ClosedError', 'FMI_CLOSED'),
    });
  }, 120_000);
});

describe('lambda package - bad input', () => {
  it('exits 2 with the problem named: no entry, a missing file, no handler export, an unresolvable import, a bad flag, a bad --include', async () => {
    const noHandler = join(work, 'src', 'no-handler.mjs');
    writeFileSync(noHandler, `import { init } from 'fmi';\nexport const main = async () => (await init()).close();\n`);
    const badImport = join(work, 'src', 'bad-import.mjs');
    writeFileSync(badImport, `import 'no-such-package-anywhere';\nexport const handler = async () => 1;\n`);
    const cases: [string[], RegExp][] = [
      [[], /needs the handler file/],
      [[join(work, 'missing.mjs')], /FMI_CONFIG: lambda package: no entry file/],
      [[noHandler], /exports no `handler`/],
      [[badImport], /cannot bundle[\s\S]*no-such-package-anywhere/],
      [[entry, '--bogus'], /Unknown option '--bogus'/],
      [[entry, '-o', join(work, 'no', 'dir', 'f.zip')], /no directory/],
      [[entry, '--include', join(work, 'nope.bin')], /no file .*nope\.bin to include/],
      [[entry, '--include', join(work, 'src', 'handler.mjs'), '--include', join(work, 'src', 'data.json'), '--include', `${root}build/kernels.wasm`], /already has a kernels\.wasm/],
    ];
    for (const [args, message] of cases) {
      const r = await run([cli, 'lambda', 'package', ...args, ...(args.includes('-o') ? [] : ['-o', join(work, 'bad.zip')])]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
    expect(existsSync(join(work, 'bad.zip'))).toBe(false);
  });

  it('the API throws FmiError FMI_CONFIG', async () => {
    const err = await packageLambda({ entry: join(work, 'missing.mjs'), output: join(work, 'x.zip') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FmiError);
    expect((err as FmiError).code).toBe('FMI_CONFIG');
  });
});
