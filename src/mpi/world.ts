import { randomUUID } from 'node:crypto';
import { newSecret } from '../rendezvous/auth.js';
import { init, type InitOptions } from '../comm/init.js';
import type { Communicator } from '../comm/communicator.js';
import { RendezvousServer } from '../rendezvous/server.js';
import { runProgram } from './program.js';

export interface RunInProcessOptions {
  ranks: number;
  args?: readonly string[];
  /** Each rank's stdout lines. @default process.stdout, prefixed "[rank] " */
  stdout?: (rank: number, line: string) => void;
  stderr?: (rank: number, line: string) => void;
  /** Stops the job (every rank fails) after this long. @default none */
  timeoutMs?: number;
  /** More options for every rank's `init` (say a `config` with Redis or S3, a `hint`); rank, size, job and rendezvous are set here. */
  init?: Partial<InitOptions>;
  /** Called with every rank's communicator once the program has ended, before they close (to read `stats()`). */
  onDone?: (comms: readonly Communicator[]) => void;
}

/**
 * Runs a program built with `fmi cc` on `ranks` ranks inside this process
 * (one Wasm instance each, real loopback connections, an embedded rendezvous
 * server). When a rank exits non-zero the others are stopped, as `fmi run`
 * does. Resolves to the exit status of every rank.
 */
export async function runInProcess(path: string, o: RunInProcessOptions): Promise<number[]> {
  const server = new RendezvousServer({ host: '127.0.0.1', port: 0, requireSecret: true });
  const addr = await server.listen();
  const job = randomUUID();
  const secret = newSecret();
  const stop = new AbortController();
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => stop.abort(new Error(`timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
  let comms: Communicator[] = [];
  try {
    comms = await Promise.all(Array.from({ length: o.ranks }, (_, rank) => init({ env: {}, ...o.init, rank, size: o.ranks, job, rendezvous: addr, secret })));
    const out = o.stdout ?? ((r: number, l: string) => void process.stdout.write(`[${r}] ${l}\n`));
    const err = o.stderr ?? ((r: number, l: string) => void process.stderr.write(`[${r}] ${l}\n`));
    const codes = await Promise.all(comms.map(async (comm, rank) => {
      const code = await runProgram(path, o.args ?? [], {
        comm,
        signal: stop.signal,
        stdout: (l) => out(rank, l),
        stderr: (l) => err(rank, l),
      });
      if (code !== 0 && !stop.signal.aborted) stop.abort(new Error(`rank ${rank} exited with code ${code}`));
      return code;
    }));
    o.onDone?.(comms);
    return codes;
  } finally {
    if (timer) clearTimeout(timer);
    await Promise.all(comms.map((c) => c.close().catch(() => {})));
    await server.close();
  }
}
