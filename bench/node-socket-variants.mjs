// What each public way of driving a Node TCP socket costs per message: an 8 B
// ping-pong between two processes on loopback, the pinging side in one of
// several variants, the echo side always the same ('data' events, one write:
// the accepted socket of a net.Server takes no onread). Variants take turns, FMI_BENCH_REPEAT rounds, so load
// drifts hit them all alike. The figure that holds up under load is the
// pinging process's CPU (user + system) per round trip; wall time is shown too.
//   node bench/node-socket-variants.mjs
// Environment: FMI_BENCH_CALLS (round trips per job, default 20000; 2000 more
// warm up), FMI_BENCH_REPEAT (default 5), FMI_BENCH_VARIANTS (comma list,
// default all). stdout: one JSON line per job; stderr: a table of medians.
//
// Variants (the pinging side):
//   data          'data' events, write(buf): Node's default
//   data-cb       the same with a write callback (fmi's direct channel passes one)
//   onread        net.connect's onread into a reused buffer, write(buf)
//   onread-cb     onread, write(buf, cb)
//   onread-await  onread, and the loop awaits a promise per reply (as an
//                 `await comm.recv()` does), write(buf)
//   onread-cork   onread, cork(); write(buf); uncork() (one frame, corked)
//   onread-2w     onread, header and payload as two writes (no cork): two syscalls

import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 20000);
const WARM = 2000;
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 5);
const ALL = ['data', 'data-cb', 'onread', 'onread-cb', 'onread-await', 'onread-cork', 'onread-2w'];
const VARIANTS = process.env.FMI_BENCH_VARIANTS ? process.env.FMI_BENCH_VARIANTS.split(',') : ALL;
const log = (s) => process.stderr.write(`${s}\n`);

if (process.argv[2] === 'ping') {
  await ping(process.argv[3], Number(process.argv[4]));
  process.exit(0);
} else {
  await main();
}

/** The echo side: the parent, on the accepted socket ('data' events: net.Server's sockets take no onread). */
function echo(socket) {
  socket.setNoDelay(true);
  socket.on('data', (d) => socket.write(d));
  socket.on('error', () => {});
}

async function ping(variant, port) {
  const msg = Buffer.alloc(8, 1);
  const head = msg.subarray(0, 4);
  const body = msg.subarray(4);
  const stage = Buffer.allocUnsafeSlow(64 * 1024);
  let got = 0;
  let onMsg = () => {};
  const useOnread = variant.startsWith('onread');
  const s = connect({ host: '127.0.0.1', port, noDelay: true, ...(useOnread ? { onread: { buffer: stage, callback: (n) => { got += n; if (got >= 8) { got -= 8; onMsg(); } } } } : {}) });
  await new Promise((r) => s.once('connect', r));
  if (!useOnread) s.on('data', (d) => { got += d.byteLength; if (got >= 8) { got -= 8; onMsg(); } });
  const noop = () => {};
  const send = {
    data: () => s.write(msg),
    'data-cb': () => s.write(msg, noop),
    onread: () => s.write(msg),
    'onread-cb': () => s.write(msg, noop),
    'onread-await': () => s.write(msg),
    'onread-cork': () => { s.cork(); s.write(msg); s.uncork(); },
    'onread-2w': () => { s.write(head); s.write(body); },
  }[variant];
  if (!send) throw new Error(`FMI_BENCH_VARIANTS: no variant ${variant} (${ALL.join(', ')})`);
  const run = (n) => {
    if (variant === 'onread-await') {
      return (async () => {
        for (let i = 0; i < n; i++) {
          const p = new Promise((r) => { onMsg = r; });
          send();
          await p;
        }
      })();
    }
    return new Promise((done) => {
      let left = n;
      onMsg = () => { if (--left === 0) done(); else send(); };
      send();
    });
  };
  await run(WARM);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run(CALLS);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ user: c.user, sys: c.system, wall_us: wall * 1e3 }));
  s.destroy();
}

async function main() {
  const rows = [];
  for (let k = 0; k < REPEAT; k++) {
    for (const variant of VARIANTS) {
      const server = createServer();
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      let echoSocket;
      server.on('connection', (sock) => { echoSocket = sock; echo(sock); });
      const e0 = process.cpuUsage();
      const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'ping', variant, String(server.address().port)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      await new Promise((r) => child.once('exit', r));
      const e = process.cpuUsage(e0);
      echoSocket?.destroy();
      server.close();
      const r = JSON.parse(out.trim());
      const row = {
        variant,
        calls: CALLS,
        half_rt_us: r.wall_us / CALLS / 2,
        cpu_us_per_rt: (r.user + r.sys) / CALLS,
        user_us_per_rt: r.user / CALLS,
        sys_us_per_rt: r.sys / CALLS,
        // The echo side's CPU over the whole job (start-up and warm-up included): a rough check only.
        echo_cpu_us_per_rt: (e.user + e.system) / (CALLS + WARM),
        load1: Math.round(loadavg()[0] * 10) / 10,
      };
      rows.push(row);
      process.stdout.write(`${JSON.stringify(row)}\n`);
    }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  log(`\nmedians of ${REPEAT} jobs, ${CALLS} round trips each (load ${loadavg()[0].toFixed(1)}); the pinging process's CPU per round trip`);
  log('  variant        half RT us   CPU us/RT   user   sys');
  for (const v of VARIANTS) {
    const rs = rows.filter((r) => r.variant === v);
    const m = (k) => median(rs.map((r) => r[k])).toFixed(1);
    log(`  ${v.padEnd(14)} ${m('half_rt_us').padStart(10)} ${m('cpu_us_per_rt').padStart(11)} ${m('user_us_per_rt').padStart(6)} ${m('sys_us_per_rt').padStart(5)}`);
  }
}
