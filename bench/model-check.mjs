// Does the calibrated model predict this machine? Calibrates, then measures,
// then prints predicted next to measured. One command:
//   npm run build && node bench/model-check.mjs [--sizes 1k,64k,1m] [--channels direct,redis,s3]
//                                               [--ranks 4] [--ops bcast,allreduce] [--repeat 3]
//   node bench/model-check.mjs > check.jsonl && node bench/run.mjs --report DIR --from check.jsonl
//
// Runs bench/channels.mjs with FMI_BENCH_CALIBRATE=1 once per channel: it
// starts its own redis-server or Ceph RGW (only for the channel asked for),
// writes a config enabling it, runs `fmi calibrate` on it with the same ranks
// (so the model section holds this machine's latencies, bandwidths, gaps,
// figures with every rank busy and fresh-memory cost), then at once measures
// bcast and allreduce on that channel (bench/channels-rank.mjs, whose lines
// carry the model's time for the same op, size and ranks from that config).
// One channel at a time, so that the calibration and the measurement it
// predicts are a minute apart, not several: on a shared machine the load
// moves in between. Each size is measured --repeat times (default 3; S3
// once), the sizes in turn (1k, 64k, 1m, 1k, ...), and a cell is the median
// of its measured p50s: one p50 is some 100 calls in a row, and a 1 MiB
// bcast's moved 1.7-4.8 ms from one such run to the next in one job
// (direct, 4 ranks, chrt, load 7-8).
//
// Flags (or the environment of channels.mjs: FMI_BENCH_SIZES, default
// 1k,64k,1m; FMI_BENCH_CHANNELS, default direct,redis,s3;
// FMI_BENCH_CHANNELS_RANKS, default 4; FMI_BENCH_OPS, default
// bcast,allreduce). stdout: the JSON lines of channels.mjs (a `calibrate`
// line, then one per op, channel, size and repeat); stderr: progress, then
// the table: measured p50 (the median of the repeats, and their range), the
// model's time, model / measured and whether it is within 30 %, every row; then the count within 30 %, in all and per channel.
// Exit code 1 when channels.mjs failed (the table still shows what it got).

import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { eachLine, fmtBytes, loadLine } from './lib/common.mjs';
import { fmtUs } from './lib/channels-table.mjs';

const TOLERANCE = 0.3;
const log = (s) => process.stderr.write(s + '\n');
const { values: flags } = parseArgs({
  options: { sizes: { type: 'string' }, channels: { type: 'string' }, ranks: { type: 'string' }, ops: { type: 'string' }, repeat: { type: 'string' } },
  strict: true,
});
if (flags.ranks !== undefined && !(Number.isInteger(Number(flags.ranks)) && Number(flags.ranks) >= 2)) {
  log(`model-check: --ranks needs an integer of at least 2, got ${flags.ranks}`);
  process.exit(2);
}
const repeat = Number(flags.repeat ?? 3);
if (!(Number.isInteger(repeat) && repeat >= 1)) {
  log(`model-check: --repeat needs an integer of at least 1, got ${flags.repeat}`);
  process.exit(2);
}
const script = fileURLToPath(new URL('./channels.mjs', import.meta.url));
const env = {
  ...process.env,
  FMI_BENCH_CALIBRATE: '1',
  FMI_BENCH_DRIVER: '1', // channels.mjs leaves its tables out; ours follow
  FMI_BENCH_SIZES: flags.sizes ?? process.env.FMI_BENCH_SIZES ?? '1k,64k,1m',
  FMI_BENCH_OPS: flags.ops ?? process.env.FMI_BENCH_OPS ?? 'bcast,allreduce',
  FMI_BENCH_CHANNELS_RANKS: flags.ranks ?? process.env.FMI_BENCH_CHANNELS_RANKS ?? '4',
};
const channelsAsked = (flags.channels ?? process.env.FMI_BENCH_CHANNELS ?? 'direct,redis,s3').split(',').map((c) => c.trim()).filter(Boolean);
const loadBefore = loadLine();
log(`model check: ${env.FMI_BENCH_CHANNELS_RANKS} ranks, sizes ${env.FMI_BENCH_SIZES} x ${repeat}, ops ${env.FMI_BENCH_OPS}, channels ${channelsAsked.join(',')}; ${cpus().length} CPUs, load average ${loadBefore}`);

const results = [];
let child;
let stopped = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopped = true;
    child?.kill(sig);
  });
}
let code = 0;
for (const channel of channelsAsked) {
  if (stopped) break;
  // S3's calls take tens of ms: one run of its sizes.
  const sizes = Array.from({ length: channel === 's3' ? 1 : repeat }, () => env.FMI_BENCH_SIZES).join(',');
  child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, FMI_BENCH_CHANNELS: channel, FMI_BENCH_SIZES: sizes } });
  const lines = eachLine(child.stdout, (l) => {
    if (!l.startsWith('{')) return;
    process.stdout.write(l + '\n');
    try {
      results.push(JSON.parse(l));
    } catch {
      /* not a result */
    }
  });
  const c = await new Promise((resolve) => child.on('close', (c, s) => resolve(c ?? (s ? 1 : 0))));
  await lines;
  code ||= c;
}

const rows = [['op', 'channel', 'size', 'measured p50', 'range', 'model', 'model/measured', 'within 30%']];
const count = new Map(); // channel -> [inside, total]
for (const r of cells(results.filter((x) => x.bench === 'channels'))) {
  const c = count.get(r.channel) ?? [0, 0];
  count.set(r.channel, c);
  c[1]++;
  if (r.model_us === undefined) {
    rows.push([r.op, r.channel, fmtBytes(r.bytes), fmtUs(r.p50_us), r.range, '-', '-', 'no model']);
    continue;
  }
  const ratio = r.model_us / r.p50_us;
  const ok = Math.abs(ratio - 1) <= TOLERANCE;
  if (ok) c[0]++;
  rows.push([r.op, r.channel, fmtBytes(r.bytes), fmtUs(r.p50_us), r.range, fmtUs(r.model_us), ratio.toFixed(2), ok ? 'yes' : 'no']);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
log(`\ncalibrated model vs measurement, ${env.FMI_BENCH_CHANNELS_RANKS} ranks (p50 of the slowest rank per call; load average before ${loadBefore}, after ${loadLine()})`);
for (const r of rows) log(r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
const inside = [...count.values()].reduce((a, c) => a + c[0], 0);
const total = [...count.values()].reduce((a, c) => a + c[1], 0);
const per = [...count].map(([ch, [i, t]]) => `${ch} ${i} of ${t}`).join(', ');
log(`\n${inside} of ${total} predictions within ${TOLERANCE * 100}% of the measurement (${per})`);
process.exitCode = code;

/** One cell per op, channel and size: the median of its runs' p50s (the model is the same in each), and their range. */
function cells(lines) {
  const by = new Map();
  for (const r of lines) {
    const key = `${r.op} ${r.channel} ${r.bytes}`;
    if (!by.has(key)) by.set(key, []);
    by.get(key).push(r);
  }
  return [...by.values()].map((runs) => {
    const p50s = runs.map((r) => r.p50_us).sort((a, b) => a - b);
    const mid = p50s.length >> 1;
    const p50 = p50s.length % 2 ? p50s[mid] : (p50s[mid - 1] + p50s[mid]) / 2;
    const range = p50s.length > 1 ? `${fmtUs(p50s[0])}-${fmtUs(p50s.at(-1))}` : '-';
    return { ...runs[0], p50_us: p50, range };
  });
}
