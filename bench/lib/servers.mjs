// Throw-away Redis and S3 (Ceph RGW) servers for a benchmark, through
// bench/lib/servers.sh. That script holds the daemons and stops them when its
// stdin closes: at stop(), or when this process dies in any way (even
// SIGKILL), since the kernel then closes the pipe. So no daemon outlives the
// benchmark.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./servers.sh', import.meta.url));

/**
 * Starts the servers named in `which` ('redis', 'rgw'). Resolves once they
 * answer, to { redis: {url, pid}, rgw: {endpoint, region, accessKeyId,
 * secretAccessKey, pids}, pids, stop() }. `log` gets the script's progress.
 */
export function startServers(which, log = (s) => process.stderr.write(s + '\n')) {
  const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-servers-'));
  // No new process group: a Ctrl-C in the terminal reaches the script too, and it cleans up.
  const child = spawn('bash', [script, dir, ...which], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let stderr = '';
  let stoppedSeen = false;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    stderr += d;
    for (const l of d.split('\n')) {
      if (l === 'STOPPED') stoppedSeen = true;
      else if (l.trim()) log(`   servers| ${l}`);
    }
  });
  child.stdin.on('error', () => {}); // EPIPE once the script is gone
  const values = {};
  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGTERM'), 90_000);
      const r = await exited;
      clearTimeout(timer);
      // The script removes the directory; this only matters if it was killed.
      rmSync(dir, { recursive: true, force: true });
      return { ...r, clean: stoppedSeen };
    })();
    return stopping;
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line === 'READY') {
          const pids = [];
          const out = { dir, stop, pids };
          if (values.REDIS_URL) {
            out.redis = { url: values.REDIS_URL, pid: Number(values.REDIS_PID) };
            pids.push({ name: 'redis-server', pid: out.redis.pid });
          }
          if (values.RGW_ENDPOINT) {
            const rgwPids = (values.RGW_PIDS ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
            out.rgw = {
              endpoint: values.RGW_ENDPOINT,
              region: values.RGW_REGION ?? 'us-east-1',
              accessKeyId: values.RGW_ACCESS_KEY,
              secretAccessKey: values.RGW_SECRET_KEY,
              pids: rgwPids,
            };
            for (const pid of rgwPids) pids.push({ name: 'ceph/rgw', pid });
          }
          resolve(out);
        } else {
          const m = /^([A-Z_]+)=(.*)$/.exec(line);
          if (m) values[m[1]] = m[2];
        }
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`bench/lib/servers.sh ended before the servers were up (${signal ?? `code ${code}`}):\n${stderr.trim()}`)));
  });
}

/** Which of `pids` ({name, pid}) still run (zombies count as gone). */
export function stillRunning(pids) {
  return pids.filter(({ pid }) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch {
      return false;
    }
  });
}
