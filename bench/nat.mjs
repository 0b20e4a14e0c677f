// Ping-pong across two NATs (needs root, `ip`, `iptables`; npm run build first):
//   sudo node bench/nat.mjs
//
// Builds scripts/netns-nat-up.sh's topology (two port-preserving MASQUERADE
// routers that drop unsolicited SYNs, prefix fmi-b-), runs a rendezvous server
// in its "internet" and measures, with the sizes and timing of pingpong.mjs:
//   fmi  direct  nat-punch   rank 0 behind one NAT, rank 1 behind the other: the pair punches
//   raw  tcp     nat-punch   a bare Node socket on the same path, punched the same way
//                            (both sides dial each other from fixed ports), lib/framer.mjs
//   fmi  direct  lan         both ranks behind one NAT: the pair uses the listener
// stdout: one JSON line per size (bench/README.md), each with `variant` the
// path; stderr: how long pairing took, then a table. Removes the namespaces
// when done, also on failure.
//
// Environment: FMI_BENCH_QUICK, FMI_BENCH_MS, FMI_BENCH_SIZES as pingpong.mjs.

import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { PINGPONG_SIZES, eachLine, fmtBytes, sizesFrom } from './lib/common.mjs';
import { fmtUs } from './lib/channels-table.mjs';
import { echo, measure } from './lib/framer.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const PREFIX = 'fmi-b-';
const SERVER = '10.99.0.1:7400';
/** The fixed ports of the raw baseline: with port-preserving NATs, also their public ports. */
const RAW_PORT = { measure: 41001, echo: 41002 };
const RAW_PEER = { measure: '10.99.0.12', echo: '10.99.0.11' };
const log = (s) => process.stderr.write(s + '\n');

if (process.argv[2] === '--raw') await rawSide(process.argv[3]);
else await main();

/** One side of the raw baseline, inside a function's namespace: punch, then measure or echo. */
async function rawSide(role) {
  const other = role === 'measure' ? 'echo' : 'measure';
  const t0 = performance.now();
  const socket = await punch(RAW_PORT[role], RAW_PEER[role], RAW_PORT[other]);
  log(`raw ${role}: punched in ${Math.round(performance.now() - t0)} ms`);
  socket.setNoDelay(true);
  const sizes = sizesFrom(PINGPONG_SIZES);
  if (role === 'echo') {
    echo(socket, Math.max(...sizes));
    await new Promise((resolve) => socket.once('close', resolve));
  } else {
    await measure(socket, sizes, 'tcp');
    socket.end();
  }
}

/** TCP simultaneous open from a fixed port, as fmi punches: redial every 50 ms, each dial waiting up to 4 s. */
function punch(localPort, host, port) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const dial = () => {
      const s = connect({ host, port, localPort });
      s.setTimeout(4000);
      const retry = () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`raw punch to ${host}:${port} failed`));
        else setTimeout(dial, 50);
      };
      s.once('timeout', retry);
      s.once('error', retry);
      s.once('connect', () => {
        s.setTimeout(0);
        s.off('error', retry);
        resolve(s);
      });
    };
    dial();
  });
}

async function main() {
  if (process.getuid?.() !== 0) {
    log('bench/nat.mjs needs root (network namespaces, iptables)');
    process.exit(2);
  }
  const env = { ...process.env, NETNS_PREFIX: PREFIX };
  execFileSync('sh', [`${ROOT}scripts/netns-nat-up.sh`, 'default', 'drop'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const rv = spawn('ip', ['netns', 'exec', `${PREFIX}pub`, process.execPath, `${ROOT}dist/cli/main.js`, 'rendezvous', '--host', '10.99.0.1', '--quiet'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const results = [];
  try {
    await new Promise((resolve) => rv.stdout.once('data', resolve));
    results.push(...(await fmiPingpong(['f1', 'f2'], 'nat-punch')));
    results.push(...(await rawPingpong()));
    results.push(...(await fmiPingpong(['f1', 'f1'], 'lan')));
  } finally {
    rv.kill('SIGKILL');
    execFileSync('sh', [`${ROOT}scripts/netns-nat-down.sh`], { env, stdio: 'ignore' });
  }
  table(results);
}

/** Runs `argv` in namespace `ns`; passes each stdout line to onLine and each stderr line to onErr. */
async function inNs(ns, argv, env, onLine, onErr) {
  const child = spawn('ip', ['netns', 'exec', PREFIX + ns, process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const done = Promise.all([eachLine(child.stdout, onLine), eachLine(child.stderr, onErr)]);
  const code = await new Promise((resolve) => child.once('exit', resolve));
  await done;
  if (code !== 0) throw new Error(`${argv.join(' ')} in ${ns} exited with ${code}`);
}

/** bench/pingpong.mjs as two ranks placed in `where`; its results tagged with `variant`. */
async function fmiPingpong(where, variant) {
  const job = randomUUID();
  const out = [];
  await Promise.all(
    where.map((ns, rank) => {
      const env = { ...process.env, FMI_RANK: String(rank), FMI_SIZE: '2', FMI_JOB: job, FMI_RENDEZVOUS: SERVER, FMI_DEBUG: '1' };
      return inNs(ns, [`${ROOT}bench/pingpong.mjs`], env, (line) => out.push(tag(line, variant)), (line) => {
        const m = /^fmi debug: direct (rank \d+ <-> \d+ via \w+) .* in (\d+ ms)/.exec(line);
        if (m) log(`fmi ${variant}: ${m[1]}, paired in ${m[2]}`);
        else log(line);
      });
    }),
  );
  return out;
}

async function rawPingpong() {
  const out = [];
  await Promise.all(
    ['measure', 'echo'].map((role) => inNs(role === 'measure' ? 'f1' : 'f2', [SELF, '--raw', role], process.env, (line) => out.push(tag(line, 'nat-punch')), log)),
  );
  return out;
}

function tag(line, variant) {
  const r = { ...JSON.parse(line), variant };
  process.stdout.write(JSON.stringify(r) + '\n');
  return r;
}

function fmtMbs(x) {
  return x === undefined ? '-' : x.toFixed(x >= 100 ? 0 : 1);
}

function table(results) {
  const rows = [['bytes', 'fmi nat-punch', 'raw nat-punch', 'fmi/raw', 'fmi lan', 'fmi MB/s nat', 'raw MB/s nat']];
  const find = (impl, variant, bytes) => results.find((r) => r.impl === impl && r.variant === variant && r.bytes === bytes);
  for (const bytes of [...new Set(results.map((r) => r.bytes))]) {
    const f = find('fmi', 'nat-punch', bytes);
    const raw = find('raw-socket', 'nat-punch', bytes);
    const lan = find('fmi', 'lan', bytes);
    rows.push([
      fmtBytes(bytes),
      fmtUs(f?.p50_us),
      fmtUs(raw?.p50_us),
      f && raw ? `${(f.p50_us / raw.p50_us).toFixed(2)}x` : '-',
      fmtUs(lan?.p50_us),
      fmtMbs(f?.mb_s),
      fmtMbs(raw?.mb_s),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  log('\nping-pong p50 (round trip / 2) across two NATs:');
  for (const r of rows) log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
}
