import { spawn, type ChildProcess } from 'node:child_process';

export interface RankProcess {
  child: ChildProcess;
  /** Resolves when the process has printed a line containing `text`. */
  said(text: string): Promise<void>;
  /** SIGKILL, as a crashed or timed-out function, and waits for the exit. */
  kill(): Promise<void>;
}

/**
 * Runs `body` (an ES module, top-level await allowed) in a Node process of its
 * own: a rank that can be killed, or whose event loop can be blocked, without
 * touching the test's. `channels` is the built channels directory
 * (dist/channels/), which the body imports from.
 */
export function rankProcess(body: (channels: string) => string): RankProcess {
  const channels = new URL('../../dist/channels/', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', body(channels)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    said: (text) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!out.includes(text)) return;
          listeners.delete(check);
          resolve();
        };
        listeners.add(check);
        check();
        void exited.then(() => reject(new Error(`rank process exited (${child.exitCode ?? child.signalCode}) before printing ${JSON.stringify(text)}`)));
      }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
