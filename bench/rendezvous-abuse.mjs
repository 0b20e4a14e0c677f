// What a hostile client costs `fmi rendezvous`: one JSON line per scenario.
//   node bench/rendezvous-abuse.mjs            (after npm run build)
// Env: ABUSE_MIB (endless line, default 600), ABUSE_IDLE (idle connections, default 5000).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const MIB = Number(process.env.ABUSE_MIB ?? 600);
const IDLE = Number(process.env.ABUSE_IDLE ?? 5000);

async function startServer() {
  const child = spawn(process.execPath, [cli, 'rendezvous', '--port', '0', '--host', '127.0.0.1', '--quiet', '--health-interval', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on .+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`server exited: ${out}`)));
  });
  return { child, ep: { host: '127.0.0.1', port } };
}

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** Time (ms) for a fresh rank to register. */
function register(ep) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = connect({ host: ep.host, port: ep.port, localAddress: ep.localAddress }, () => s.write(`${JSON.stringify({ t: 'register', job: `b-${Math.random()}`, rank: 0, size: 1 })}\n`));
    s.once('data', (d) => {
      s.destroy();
      if (String(d).startsWith('{"t":"registered"}')) resolve(performance.now() - t0);
      else reject(new Error(`not registered: ${d}`));
    });
    s.once('error', reject);
  });
}

const p50 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function endlessLine() {
  const { child, ep } = await startServer();
  const rss0 = rssMiB(child.pid);
  const s = connect({ ...ep, allowHalfOpen: true });
  s.on('error', () => {});
  await new Promise((r) => s.once('connect', r));
  const chunk = Buffer.alloc(1 << 20, 0x61);
  let maxRss = rss0;
  const t0 = performance.now();
  for (let i = 0; i < MIB && !s.destroyed && s.writable; i++) {
    maxRss = Math.max(maxRss, rssMiB(child.pid));
    if (!s.write(chunk)) {
      const open = await Promise.race([new Promise((r) => s.once('drain', () => r(true))), new Promise((r) => s.once('close', () => r(false))), new Promise((r) => setTimeout(() => r(false), 5000))]);
      if (!open) break;
    }
  }
  const ms = performance.now() - t0;
  const sent = s.bytesWritten;
  s.destroy();
  const regMs = p50(await Promise.all(Array.from({ length: 20 }, () => register(ep))));
  console.log(JSON.stringify({ bench: 'rendezvous-endless-line', offered_mib: MIB, accepted_mib: +(sent / 2 ** 20).toFixed(1), ms: Math.round(ms), server_rss_growth_mib: +(maxRss - rss0).toFixed(1), register_p50_ms: +regMs.toFixed(2) }));
  child.kill('SIGTERM');
}

async function idleConnections() {
  const { child, ep } = await startServer();
  const socks = [];
  let refused = 0;
  // In batches, so that the kernel's accept queue (not the server) is not what refuses them.
  for (let i = 0; i < IDLE; i += 200) {
    const batch = Array.from({ length: Math.min(200, IDLE - i) }, () => {
      const s = connect(ep);
      s.on('error', () => {});
      s.on('data', (d) => String(d).includes('too many connections') && refused++);
      socks.push(s);
      return new Promise((r) => {
        s.once('connect', r);
        s.once('close', r);
      });
    });
    await Promise.all(batch);
  }
  await new Promise((r) => setTimeout(r, 1000));
  const open = () => socks.filter((s) => !s.destroyed && !s.readableEnded).length;
  const held = open();
  // From another address: the per-address cap must not lock other clients out.
  const regMs = p50(await Promise.all(Array.from({ length: 20 }, () => register({ ...ep, localAddress: '127.0.0.2' }))));
  const rss = rssMiB(child.pid);
  // The default idle timeout is 10 s from each accept; accepts lag on a busy machine.
  await new Promise((r) => setTimeout(r, 15_000));
  console.log(JSON.stringify({ bench: 'rendezvous-idle-connections', opened: IDLE, refused, held_after_1s: held, held_after_16s: open(), register_p50_ms: +regMs.toFixed(2), server_rss_mib: +rss.toFixed(1) }));
  for (const s of socks) s.destroy();
  child.kill('SIGTERM');
}

await endlessLine();
await idleConnections();
