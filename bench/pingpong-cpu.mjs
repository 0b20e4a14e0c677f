// What latency costs in CPU: 8 B round trips between 2 ranks, and barriers
// and 1 KiB allreduces (f64 SUM, into a buffer) on 4 ranks, each rank's CPU
// (user + system) and wall time over the same loop, for Open MPI over TCP
// (bench/native/pingpong-cpu.c, `--mca pml ob1 --mca btl tcp,self`), fmi by
// default and fmi with FMI_DIRECT_POLL_US, and (ping-pong only) a bare Node
// socket with the same framing and reads (lib/framer.mjs: raw-socket), the
// floor under fmi's direct channel. FMI_BENCH_BASE=/path/to/other/checkout
// adds fmi-base rows (that build's dist/, same loop), taking turns with these. A rank that sleeps while it waits
// spends a fraction of its wall time; one that busy polls spends all of it.
//   npm run build && node bench/pingpong-cpu.mjs
// Environment: FMI_BENCH_OPS (op:ranks, default
// pingpong:2,allreduce:4,barrier:4), FMI_BENCH_CALLS (round trips, default
// 20000; 1000 more warm up), FMI_BENCH_COLL_CALLS (collective calls, default
// 4000), FMI_BENCH_POLL_US (default 200), FMI_BENCH_REPEAT (jobs per impl,
// taking turns; default 3), FMI_BENCH_IMPL (comma list, default all).
// stdout: one JSON line per rank and job; stderr:
// a table (medians over the jobs).

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { connect, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Framer } from './lib/framer.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 20000);
const COLL_CALLS = Number(process.env.FMI_BENCH_COLL_CALLS ?? 4000);
const OPS = (process.env.FMI_BENCH_OPS || 'pingpong:2,allreduce:4,barrier:4').split(',').map((o) => {
  const [op, n] = o.split(':');
  if (!['pingpong', 'barrier', 'allreduce'].includes(op) || !(Number(n) >= 2)) throw new Error(`FMI_BENCH_OPS: ${o} is not pingpong|barrier|allreduce:RANKS`);
  return { op, ranks: Number(n), calls: op === 'pingpong' ? CALLS : COLL_CALLS };
});
const POLL_US = process.env.FMI_BENCH_POLL_US ?? '200';
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 3);
const BASE = process.env.FMI_BENCH_BASE ? resolve(process.env.FMI_BENCH_BASE) : undefined;
const ONLY = process.env.FMI_BENCH_IMPL ? process.env.FMI_BENCH_IMPL.split(',') : undefined;
const log = (s) => process.stderr.write(`${s}\n`);

if (process.argv[2] === 'raw') {
  // raw-socket: this process pings (rank 0), a child echoes (rank 1), over one loopback socket.
  const calls = Number(process.argv[3]);
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  spawn(process.execPath, [fileURLToPath(import.meta.url), 'raw-echo', String(calls), String(server.address().port)], { stdio: 'inherit' });
  const socket = await new Promise((resolve) => server.once('connection', resolve));
  server.close();
  const buf = Buffer.alloc(8);
  let wake;
  const f = new Framer(socket, 8, () => wake());
  const rounds = async (n) => {
    for (let i = 0; i < n; i++) {
      await new Promise((resolve) => {
        wake = resolve;
        f.write(buf);
      });
    }
  };
  await rounds(1000);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await rounds(calls);
  const wall = (performance.now() - w0) * 1e3;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ rank: 0, cpu_us: c.user + c.system, user_us: c.user, wall_us: Math.round(wall) }));
  socket.end();
  await new Promise((resolve) => socket.once('close', resolve));
  process.exit(0);
}

if (process.argv[2] === 'raw-echo') {
  // The echo side counts frames: its CPU is taken over the same round trips as rank 0's.
  const calls = Number(process.argv[3]);
  const socket = connect({ host: '127.0.0.1', port: Number(process.argv[4]) });
  let seen = 0;
  let c0;
  let w0;
  const f = new Framer(socket, 8, (len) => {
    if (++seen === 1001) {
      c0 = process.cpuUsage();
      w0 = performance.now();
    }
    f.write(f.rbuf.subarray(0, len));
    if (seen === 1000 + calls) {
      const c = process.cpuUsage(c0);
      console.log(JSON.stringify({ rank: 1, cpu_us: c.user + c.system, user_us: c.user, wall_us: Math.round((performance.now() - w0) * 1e3) }));
    }
  });
  socket.on('error', () => {});
  await new Promise((resolve) => socket.once('close', resolve));
  process.exit(0);
}

if (process.argv[2] === 'rank') {
  // The fmi side, run as each rank of `fmi run -n N`: the loop of pingpong-cpu.c.
  // fmi-base rows: that checkout's package (this tree's `import 'fmi'` resolves to this tree's).
  const { init, Op } = await import(process.env.FMI_BENCH_FMI_DIST ? pathToFileURL(process.env.FMI_BENCH_FMI_DIST).href : 'fmi');
  const comm = await init();
  const buf = new Uint8Array(8);
  const data = new Float64Array(128);
  const into = { into: new Float64Array(128) };
  const op = process.argv[4];
  const rounds = async (n) => {
    for (let i = 0; i < n; i++) {
      if (op === 'barrier') {
        await comm.barrier();
      } else if (op === 'allreduce') {
        await comm.allreduce(data, Op.SUM, into);
      } else if (comm.rank === 0) {
        await comm.send(buf, 1);
        await comm.recv(1, { into: buf });
      } else if (comm.rank === 1) {
        await comm.recv(0, { into: buf });
        await comm.send(buf, 0);
      }
    }
  };
  await rounds(1000);
  await comm.barrier();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await rounds(Number(process.argv[3]));
  const wall = (performance.now() - w0) * 1e3;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ rank: comm.rank, cpu_us: c.user + c.system, user_us: c.user, wall_us: Math.round(wall) }));
  await comm.close();
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-pingpong-cpu-'));
const rows = [];
try {
  const exe = join(dir, 'pingpong-cpu');
  const cc = spawnSync('mpicc', ['-O2', '-o', exe, join(here, 'native/pingpong-cpu.c')], { encoding: 'utf8' });
  if (cc.status !== 0) log(`SKIP openmpi-tcp: mpicc failed (${cc.error?.code ?? cc.stderr}); apt-get install -y openmpi-bin libopenmpi-dev`);
  for (const { op, ranks, calls } of OPS) {
    const n = String(ranks);
    const fmi = [process.execPath, join(root, 'dist/cli/main.js'), 'run', '-n', n, '--no-prefix', fileURLToPath(import.meta.url), 'rank', String(calls), op];
    const IMPLS = {
      ...(cc.status === 0 ? { 'openmpi-tcp': { cmd: ['mpirun', '--allow-run-as-root', '--oversubscribe', '-np', n, '--mca', 'pml', 'ob1', '--mca', 'btl', 'tcp,self', exe, String(calls), op] } } : {}),
      fmi: { cmd: fmi },
      ...(BASE ? { 'fmi-base': { cmd: [process.execPath, join(BASE, 'dist/cli/main.js'), ...fmi.slice(2)], env: { FMI_BENCH_FMI_DIST: join(BASE, 'dist/index.js') } } } : {}),
      'fmi-poll': { cmd: fmi, env: { FMI_DIRECT_POLL_US: POLL_US } },
      ...(op === 'pingpong' && ranks === 2 ? { 'raw-socket': { cmd: [process.execPath, fileURLToPath(import.meta.url), 'raw', String(calls)] } } : {}),
    };
    for (const k of Object.keys(IMPLS)) if (ONLY && !ONLY.includes(k)) delete IMPLS[k];
    for (let k = 0; k < REPEAT; k++) {
      for (const [impl, { cmd, env }] of Object.entries(IMPLS)) {
        const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
        if (r.status !== 0) throw new Error(`${impl} ${op} failed (${r.status}):\n${r.stderr}`);
        for (const l of r.stdout.split('\n').filter((x) => x.startsWith('{"rank"'))) {
          const row = { op, ranks, impl, ...JSON.parse(l), calls, load1: Math.round(loadavg()[0] * 10) / 10 };
          rows.push(row);
          process.stdout.write(`${JSON.stringify(row)}\n`);
        }
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
log(`\nmedian of ${REPEAT} jobs (load ${loadavg()[0].toFixed(1)}); ping-pong: half a round trip, 8 B; allreduce: 1 KiB f64; CPU per call summed over the ranks`);
log('  op             impl         us/call  CPU us/call  user  CPU / wall (per rank)');
for (const { op, ranks, calls } of OPS) {
  for (const impl of [...new Set(rows.map((r) => r.impl))]) {
    const jobs = rows.filter((r) => r.op === op && r.ranks === ranks && r.impl === impl);
    if (jobs.length === 0) continue;
    // Per job: wall of rank 0, CPU summed over ranks; then the median over jobs.
    const byJob = [];
    for (let j = 0; j < jobs.length; j += ranks) byJob.push(jobs.slice(j, j + ranks));
    const per = op === 'pingpong' ? 2 : 1;
    const t = median(byJob.map((js) => Math.max(...js.map((r) => r.wall_us)) / calls / per));
    const cpu = median(byJob.map((js) => js.reduce((a, r) => a + r.cpu_us, 0) / calls));
    // User CPU is what the program runs itself (the rest: the kernel's sockets, wake-ups, scheduling); Open MPI's rows have none.
    const user = jobs.every((r) => r.user_us !== undefined) ? median(byJob.map((js) => js.reduce((a, r) => a + r.user_us, 0) / calls)).toFixed(1) : '';
    const share = median(byJob.map((js) => js.reduce((a, r) => a + r.cpu_us / r.wall_us, 0) / ranks));
    log(`  ${`${op} ${ranks}`.padEnd(14)} ${impl.padEnd(12)} ${t.toFixed(1).padStart(7)} ${cpu.toFixed(1).padStart(12)} ${user.padStart(5)} ${(share * 100).toFixed(0).padStart(10)}%`);
  }
}
