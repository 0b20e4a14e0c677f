import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The fault suite's jobs: `fmi run`, or rank processes started one by one, running test/fixtures/fault-rank.mjs. */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = `${ROOT}dist/cli/main.js`;
export const FIXTURE = `${ROOT}test/fixtures/fault-rank.mjs`;

/** What a rank of the fixture said: its pid, whether it got through, or its error. */
export interface RankReport {
  rank: number;
  pid?: number;
  ready?: boolean;
  ok?: boolean;
  still?: boolean;
  paired?: boolean;
  gathered?: boolean;
  job?: string;
  code?: string;
  ms?: number;
  message?: string;
}

export interface JobRun {
  /** Exit code of `fmi run` (or of each rank, for rank processes), null when killed. */
  codes: (number | null)[];
  ranks: RankReport[];
  stdout: string;
  stderr: string;
  ms: number;
}

function collect(line: string, ranks: RankReport[], onReport?: (r: RankReport) => void): void {
  const m = /^(?:\[\d+\] )?(\{"rank".*\})$/.exec(line);
  if (!m) return;
  const r = JSON.parse(m[1]!) as RankReport;
  ranks[r.rank] = { ...ranks[r.rank], ...r };
  onReport?.(r);
}

/** Watches a child's stdout for the fixture's JSON lines. */
function watch(child: ChildProcess, ranks: RankReport[], out: { stdout: string; stderr: string }, onReport?: (r: RankReport) => void): Promise<number | null> {
  let pending = '';
  child.stdout!.on('data', (d: Buffer) => {
    out.stdout += d;
    pending += d;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      collect(pending.slice(0, nl), ranks, onReport);
      pending = pending.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d));
  return new Promise((resolve) => child.once('close', (code) => resolve(code)));
}

export interface JobOptions {
  size: number;
  env: NodeJS.ProcessEnv;
  /** SIGKILL everything after this long: a hang fails the test instead of stalling the suite. */
  limitMs: number;
  /** Called on every JSON line a rank prints (say, to take a server away once all are ready). */
  onReport?: (r: RankReport, ranks: RankReport[]) => void;
}

/** `fmi run -n size` of the fixture. */
export async function fmiRun(o: JobOptions & { args?: string[] }): Promise<JobRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'run', '-n', String(o.size), ...(o.args ?? []), FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ranks: RankReport[] = [];
  const out = { stdout: '', stderr: '' };
  const timer = setTimeout(() => child.kill('SIGKILL'), o.limitMs);
  try {
    const code = await watch(child, ranks, out, o.onReport && ((r) => o.onReport!(r, ranks)));
    return { codes: [code], ranks, ...out, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    child.kill('SIGKILL');
  }
}

/** `size` rank processes started by the test, each with FMI_RANK set; `prefix` wraps the command (say, `ip netns exec`). */
export async function rankProcesses(o: JobOptions & { prefix?: (rank: number) => string[] }): Promise<JobRun> {
  const t0 = performance.now();
  const ranks: RankReport[] = [];
  const out = { stdout: '', stderr: '' };
  const children = Array.from({ length: o.size }, (_, rank) => {
    const cmd = [...(o.prefix?.(rank) ?? []), process.execPath, FIXTURE];
    return spawn(cmd[0]!, cmd.slice(1), {
      cwd: ROOT,
      env: { ...process.env, ...o.env, FMI_RANK: String(rank), FMI_SIZE: String(o.size) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  });
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), o.limitMs);
  try {
    const codes = await Promise.all(children.map((c) => watch(c, ranks, out, o.onReport && ((r) => o.onReport!(r, ranks)))));
    return { codes, ranks, ...out, ms: performance.now() - t0 };
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill('SIGKILL');
  }
}

/**
 * What a failure "at once" (or "at its timeout") may take on a loaded CI
 * machine: a bound that tells an ending from a hang, not a speed check
 * (8 s was not enough at load 47: an S3 heartbeat loss took 16.6 s).
 */
export const SLACK_MS = 15_000;

/** Whether process `pid` still exists (a zombie counts: nobody reaped it). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The checks every fault shares: each rank but `except` reported a typed
 * error among `codes` within `boundMs` of the fault, and no rank process is
 * left.
 */
export function expectFailedTyped(run: JobRun, codes: string[], boundMs: number, except: number[] = []): void {
  const why = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
  for (let rank = 0; rank < run.ranks.length; rank++) {
    if (except.includes(rank)) continue;
    const r = run.ranks[rank];
    expect(r?.code, `rank ${rank}: ${why}`).toBeDefined();
    expect(codes, `rank ${rank}: ${r?.message}`).toContain(r!.code);
    expect(r!.ms!, `rank ${rank}: ${r?.message}`).toBeLessThan(boundMs);
  }
  for (const r of run.ranks) if (r?.pid !== undefined) expect(alive(r.pid), `rank ${r.rank} (pid ${r.pid}) is still running`).toBe(false);
}

/**
 * `fmi rendezvous ARGS` in a process of its own (`prefix`: e.g. `ip netns exec NS`),
 * resolved once it says it listens; the caller kills it.
 */
export async function spawnRendezvous(args: string[], prefix: string[] = []): Promise<ChildProcess> {
  const cmd = [...prefix, process.execPath, CLI, 'rendezvous', ...args];
  const server = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (b: Buffer) => b.toString().includes('listening on') && resolve());
    server.once('exit', (code) => reject(new Error(`rendezvous server exited (${code}) before listening`)));
  });
  return server;
}
