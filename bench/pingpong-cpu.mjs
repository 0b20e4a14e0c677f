// What a ping-pong's latency costs in CPU: 8 B round trips between 2 ranks,
// each rank's CPU (user + system) and wall time over the same loop, for Open
// MPI over TCP (bench/native/pingpong-cpu.c, `--mca pml ob1 --mca btl
// tcp,self`), fmi by default and fmi with FMI_DIRECT_POLL_US. A rank that
// sleeps while it waits spends a fraction of its wall time; one that busy
// polls spends all of it.
//   npm run build && node bench/pingpong-cpu.mjs
// Environment: FMI_BENCH_CALLS (round trips, default 20000; 1000 more warm
// up), FMI_BENCH_POLL_US (default 200), FMI_BENCH_REPEAT (jobs per impl,
// taking turns; default 3). stdout: one JSON line per rank and job; stderr:
// a table (medians over the jobs).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');
const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 20000);
const POLL_US = process.env.FMI_BENCH_POLL_US ?? '200';
const REPEAT = Number(process.env.FMI_BENCH_REPEAT ?? 3);
const log = (s) => process.stderr.write(`${s}\n`);

if (process.argv[2] === 'rank') {
  // The fmi side, run as each rank of `fmi run -n 2`: the loop of pingpong-cpu.c.
  const { init } = await import('fmi');
  const comm = await init();
  const buf = new Uint8Array(8);
  const rounds = async (n) => {
    for (let i = 0; i < n; i++) {
      if (comm.rank === 0) {
        await comm.send(buf, 1);
        await comm.recv(1, { into: buf });
      } else {
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
  console.log(JSON.stringify({ rank: comm.rank, cpu_us: c.user + c.system, wall_us: Math.round(wall) }));
  await comm.close();
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'fmi-bench-pingpong-cpu-'));
const rows = [];
try {
  const exe = join(dir, 'pingpong-cpu');
  const cc = spawnSync('mpicc', ['-O2', '-o', exe, join(here, 'native/pingpong-cpu.c')], { encoding: 'utf8' });
  const fmi = [process.execPath, join(root, 'dist/cli/main.js'), 'run', '-n', '2', '--no-prefix', fileURLToPath(import.meta.url), 'rank', String(CALLS)];
  const IMPLS = {
    ...(cc.status === 0 ? { 'openmpi-tcp': { cmd: ['mpirun', '--allow-run-as-root', '--oversubscribe', '-np', '2', '--mca', 'pml', 'ob1', '--mca', 'btl', 'tcp,self', exe, String(CALLS)] } } : {}),
    fmi: { cmd: fmi },
    'fmi-poll': { cmd: fmi, env: { FMI_DIRECT_POLL_US: POLL_US } },
  };
  if (cc.status !== 0) log(`SKIP openmpi-tcp: mpicc failed (${cc.error?.code ?? cc.stderr}); apt-get install -y openmpi-bin libopenmpi-dev`);
  for (let k = 0; k < REPEAT; k++) {
    for (const [impl, { cmd, env }] of Object.entries(IMPLS)) {
      const r = spawnSync(cmd[0], cmd.slice(1), { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
      if (r.status !== 0) throw new Error(`${impl} failed (${r.status}):\n${r.stderr}`);
      for (const l of r.stdout.split('\n').filter((x) => x.startsWith('{"rank"'))) {
        const row = { impl, ...JSON.parse(l), calls: CALLS, load1: Math.round(loadavg()[0] * 10) / 10 };
        rows.push(row);
        process.stdout.write(`${JSON.stringify(row)}\n`);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
log(`\n8 B ping-pong, 2 ranks, ${CALLS} round trips, median of ${REPEAT} jobs (load ${loadavg()[0].toFixed(1)})`);
log('  impl          rank  half RT us  CPU us/RT  CPU / wall');
for (const impl of [...new Set(rows.map((r) => r.impl))]) {
  for (const rank of [0, 1]) {
    const mine = rows.filter((r) => r.impl === impl && r.rank === rank);
    const half = median(mine.map((r) => r.wall_us / CALLS / 2));
    const cpu = median(mine.map((r) => r.cpu_us / CALLS));
    const share = median(mine.map((r) => r.cpu_us / r.wall_us));
    log(`  ${impl.padEnd(12)} ${String(rank).padStart(5)} ${half.toFixed(1).padStart(11)} ${cpu.toFixed(1).padStart(10)} ${(share * 100).toFixed(0).padStart(10)}%`);
  }
}
