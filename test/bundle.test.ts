import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The package's entries ('fmi', 'fmi/mpi', 'fmi/lambda') are the esbuild
// bundle in dist/bundle/ (scripts/bundle.mjs), built by the globalSetup's
// `npm run build`. These tests run it as a user's program would: plain node,
// bare specifiers resolved through package.json's exports.

const root = fileURLToPath(new URL('..', import.meta.url));

// Records every file: URL the ESM loader loads (module.register hooks run on
// a loader thread in Node 20 and report over a port) and prints them on exit.
const HOOK = `
let port;
export function initialize(d) { port = d.port; }
export async function load(u, c, next) { if (u.startsWith('file:')) port.postMessage(u); return next(u, c); }
`;
const TRACE = `
import * as mod from 'node:module';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
const seen = [];
const ch = new MessageChannel();
mod.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), { data: { port: ch.port2 }, transferList: [ch.port2] });
process.on('exit', () => {
  for (let m; (m = receiveMessageOnPort(ch.port1)); ) seen.push(m.message);
  seen.push(...Object.keys(mod.createRequire(process.cwd() + '/').cache));
  process.stderr.write('\\nLOADED ' + JSON.stringify(seen) + '\\n');
});
`;

/** Runs an ES module body in a fresh node in the project root; its stdout, and the files it loaded. */
function run(body: string): { stdout: string; loaded: string[] } {
  const r = spawnSync(process.execPath, [`--import=data:text/javascript,${encodeURIComponent(TRACE)}`, '--input-type=module', '-e', body], {
    cwd: root, encoding: 'utf8', timeout: 30_000,
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  if (r.status !== 0 || !line) throw new Error(`node exited ${r.status}: ${r.stderr}`);
  return { stdout: r.stdout, loaded: JSON.parse(line.slice('LOADED '.length)) as string[] };
}

const own = (files: string[]) => files.filter((f) => f.startsWith(`file://${root}`) && !f.includes('/node_modules/'));
const heavy = (files: string[]) => files.filter((f) => /node_modules[\\/](ioredis|@aws-sdk)[\\/]/.test(f));

describe('bundle - the package entries are a few chunks of dist/bundle/', () => {
  it("import 'fmi' loads a handful of bundle files, none of tsc's modules and neither client library", () => {
    const { stdout, loaded } = run(`const fmi = await import('fmi'); console.log(typeof fmi.init, typeof fmi.Communicator, typeof fmi.Op.SUM);`);
    expect(stdout.trim()).toBe('function function object');
    const mine = own(loaded);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.filter((f) => !f.includes('/dist/bundle/'))).toEqual([]);
    // tsc's output is ~77 modules on this path; the bundle's point is few files.
    expect(mine.length).toBeLessThanOrEqual(12);
    expect(heavy(loaded)).toEqual([]);
  });

  it("'fmi', 'fmi/mpi' and 'fmi/lambda' share one copy of each class", () => {
    const { stdout } = run(`
      const a = await import('fmi');
      const m = await import('fmi/mpi');
      const l = await import('fmi/lambda');
      console.log(Object.keys(m).length > 0, Object.keys(l).length > 0);
      // An error thrown by fmi/lambda's code is an instance of the FmiError 'fmi' exports.
      try { await l.invokeJob({}); console.log('no throw'); } catch (e) { console.log(e instanceof a.FmiError, e.code); }
    `);
    expect(stdout.trim().split('\n')).toEqual(['true true', 'true FMI_CONFIG']);
  });

  it('exported classes keep their names, and no closure pays for a name at run time', () => {
    // Without esbuild's keepNames a class renamed on a clash (FmiError2) would
    // give its errors that name; with it, every named closure made on a hot
    // path costs an Object.defineProperty (see scripts/bundle.mjs).
    const { stdout } = run(`
      const fmi = await import('fmi');
      const bad = Object.entries(fmi).filter(([k, v]) => typeof v === 'function' && /^[A-Z]/.test(k) && v.name !== k).map(([k, v]) => k + '=' + v.name);
      console.log(JSON.stringify(bad), new fmi.PeerLostError('x', {}).name, new fmi.TimeoutError('x', {}).name);
    `);
    expect(stdout.trim()).toBe('[] PeerLostError TimeoutError');
    const dir = `${root}dist/bundle/`;
    const named = readdirSync(dir).filter((f) => f.endsWith('.js') && readFileSync(dir + f, 'utf8').includes('__name('));
    expect(named).toEqual([]);
  });

  it("fmi/mpi's RANK_MAIN is a file that exists beside the bundle", () => {
    const { stdout } = run(`const { RANK_MAIN } = await import('fmi/mpi'); console.log(RANK_MAIN.href);`);
    const path = fileURLToPath(stdout.trim());
    expect(path).toBe(`${root}dist/bundle/rank-main.js`);
    expect(existsSync(path)).toBe(true);
  });

  it('the Redis channel is a lazy chunk: creating one loads ioredis from the bundle', () => {
    const { loaded } = run(`
      const { RedisChannel } = await import('fmi');
      await RedisChannel.create({ port: 1, job: 'j', rank: 0, size: 1, timeoutMs: 1000 }).catch(() => {});
    `);
    expect(heavy(loaded).length).toBeGreaterThan(0);
  });

  it('the kernels find their Wasm from a chunk: a 2-rank allreduce of 64 KiB through fmi run', () => {
    // In the git-ignored .fmi-tmp/ inside the project, so that 'fmi' resolves to this package.
    const dir = join(root, '.fmi-tmp');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, `bundle-kernels-${process.pid}.mjs`);
    writeFileSync(script, `
      import { init, Op } from 'fmi';
      const comm = await init();
      const v = new Float64Array(8192).fill(comm.rank + 1);
      const r = await comm.allreduce(v, Op.SUM);
      console.log('sum', r[0], r[8191], r.length);
      await comm.close();
    `);
    try {
      const r = spawnSync(process.execPath, [`${root}dist/cli/main.js`, 'run', '-n', '2', '--no-prefix', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(['sum 3 3 8192', 'sum 3 3 8192']);
    } finally {
      rmSync(script, { force: true });
    }
  }, 90_000);

  it('package.json exports point into dist/bundle/ and the types into dist/', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: Record<string, { types: string; default: string } | string> };
    for (const [name, e] of Object.entries(pkg.exports)) {
      if (typeof e === 'string') continue;
      expect(e.default, name).toMatch(/^\.\/dist\/bundle\/[\w-]+\.js$/);
      expect(existsSync(`${root}${e.default}`), e.default).toBe(true);
      expect(existsSync(`${root}${e.types}`), e.types).toBe(true);
    }
  });
});
