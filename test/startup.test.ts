import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = (p: string) => new URL(`../dist/${p}`, import.meta.url).href;

// Loaded with --import before the entry: records every module the process
// resolves (ESM) or requires (CommonJS) and prints the list as JSON on exit.
// module.registerHooks (Node >= 22.15) runs in-thread; Node 20 only has
// module.register, whose hooks run on a loader thread and report over a port.
const HOOK = `
let port;
export function initialize(d) { port = d.port; }
export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }
`;
const TRACE = `
import * as mod from 'node:module';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
const seen = [];
let port;
if (typeof mod.registerHooks === 'function') {
  mod.registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.push(r.url); return r; } });
} else {
  const ch = new MessageChannel();
  port = ch.port1;
  mod.register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOK)}), { data: { port: ch.port2 }, transferList: [ch.port2] });
}
process.on('exit', () => {
  for (let m; port && (m = receiveMessageOnPort(port)); ) seen.push(m.message);
  seen.push(...Object.keys(mod.createRequire(process.cwd() + '/').cache));
  process.stderr.write('\\nLOADED ' + JSON.stringify(seen) + '\\n');
});
`;
const traceFlag = `--import=data:text/javascript,${encodeURIComponent(TRACE)}`;

/** The modules a fresh node process loads running `args` (after the trace hook). */
function loaded(args: string[]): string[] {
  const r = spawnSync(process.execPath, [traceFlag, ...args], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  if (r.status !== 0 || !line) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

const heavy = (mods: string[]) => mods.filter((m) => /node_modules[\\/](ioredis|@aws-sdk)[\\/]/.test(m));
const importOf = (url: string) => ['--input-type=module', '-e', `await import(${JSON.stringify(url)});`];

describe('startup - heavy client libraries load only when a channel needs them', () => {
  it('importing the main entry loads neither ioredis nor the AWS SDK', () => {
    const mods = loaded(importOf(dist('index.js')));
    expect(mods.some((m) => m.endsWith('/dist/comm/init.js'))).toBe(true);
    expect(heavy(mods)).toEqual([]);
  });

  it('nor do the channel entry points and the CLI', () => {
    expect(heavy(loaded(importOf(dist('channels/redis/index.js'))))).toEqual([]);
    expect(heavy(loaded(importOf(dist('channels/s3/index.js'))))).toEqual([]);
    expect(heavy(loaded([fileURLToPath(dist('cli/main.js')), '--version']))).toEqual([]);
  });

  it('nor does fmi/lambda: a function that handles invocations never loads the AWS SDK (invokeJob loads it when called)', () => {
    const mods = loaded(importOf(dist('lambda/index.js')));
    expect(mods.some((m) => m.endsWith('/dist/lambda/invoke.js'))).toBe(true);
    expect(heavy(mods)).toEqual([]);
  });

  it('the trace sees them when a channel module does load them', () => {
    expect(heavy(loaded(importOf(dist('channels/s3/s3-channel.js')))).length).toBeGreaterThan(0);
    const redis = `const { RedisChannel } = await import(${JSON.stringify(dist('channels/redis/index.js'))});
      await RedisChannel.create({ port: 1, job: 'j', rank: 0, size: 1, timeoutMs: 1000 }).catch(() => {});`;
    expect(heavy(loaded(['--input-type=module', '-e', redis])).length).toBeGreaterThan(0);
  });
});
