// Does the calibrated model predict this machine? Calibrates, then measures,
// then prints predicted next to measured. One command:
//   npm run build && node bench/model-check.mjs [--sizes 1k,64k,1m] [--channels direct,redis,s3]
//                                               [--ranks 4] [--ops bcast,allreduce] [--repeat 3]
//   node bench/model-check.mjs > check.jsonl && node bench/run.mjs --report DIR --from check.jsonl
//
// Runs bench/channels.mjs with FMI_BENCH_CALIBRATE=1 once per channel and
// repeat: it starts its own redis-server or Ceph RGW (only for the channel
// asked for), writes a config enabling it, runs `fmi calibrate` on it with
// the same ranks (so the model section holds this machine's latencies,
// bandwidths, gaps, figures with every rank busy and fresh-memory cost),
// then at once measures bcast and allreduce on that channel at each size
// (bench/channels-rank.mjs, whose lines carry the model's time for the same
// op, size and ranks from that config). One channel at a time, and a new
// calibration before each repeat (--repeat, default 3; S3 once), the
// channels in turn: each measurement is priced by the calibration some 20
// s before it, not one several minutes old. On a shared machine the load
// moves in between: calibrated once, a repeat's measurement a minute later
// saw another machine (a 1 MiB bcast's p50 moved 1.7-4.8 ms from one run to
// the next in one job, direct, 4 ranks, chrt, load 7-8). A cell's ratio is
// the median of its repeats' model / measured, each repeat's model its own
// calibration's; it shows the median measured p50 and model with their
// ranges.
//
// Flags (or the environment of channels.mjs: FMI_BENCH_SIZES, default
// 1k,64k,1m; FMI_BENCH_CHANNELS, default direct,redis,s3;
// FMI_BENCH_CHANNELS_RANKS, default 4; FMI_BENCH_OPS, default
// bcast,allreduce). stdout: the JSON lines of channels.mjs (a `calibrate`
// line per channel and repeat, then one per op, channel and size, each with
// `repeat`); stderr: progress, then the table: measured p50 (the median of
// the repeats, and their range), the model's time (the same), the median of
// the repeats' model / measured and whether it is within 30 %, every row;
// then each repeat's calibrated model section on one line (which number
// moved a cell); then the count within 30 %, in all and per channel.
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
const passes = Array.from({ length: repeat }, (_, r) => r);
for (const pass of passes) {
  for (const channel of channelsAsked) {
    // S3's calls take tens of ms: one calibration and one run of its sizes.
    if (stopped || (channel === 's3' && pass > 0)) continue;
    log(`\n-- repeat ${pass + 1} of ${repeat}: ${channel}`);
    child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, FMI_BENCH_CHANNELS: channel } });
    const lines = eachLine(child.stdout, (l) => {
      if (!l.startsWith('{')) return;
      let r;
      try {
        r = { ...JSON.parse(l), repeat: pass + 1 };
      } catch {
        return; // not a result
      }
      process.stdout.write(JSON.stringify(r) + '\n');
      results.push(r);
    });
    const c = await new Promise((resolve) => child.on('close', (c, s) => resolve(c ?? (s ? 1 : 0))));
    await lines;
    code ||= c;
  }
}

const rows = [['op', 'channel', 'size', 'measured p50', 'range', 'model', 'range', 'model/measured', 'within 30%']];
const count = new Map(); // channel -> [inside, total]
for (const r of cells(results.filter((x) => x.bench === 'channels'))) {
  const c = count.get(r.channel) ?? [0, 0];
  count.set(r.channel, c);
  c[1]++;
  if (r.ratio === undefined) {
    rows.push([r.op, r.channel, fmtBytes(r.bytes), fmtUs(r.p50_us), r.range, '-', '-', '-', 'no model']);
    continue;
  }
  const ok = Math.abs(r.ratio - 1) <= TOLERANCE;
  if (ok) c[0]++;
  rows.push([r.op, r.channel, fmtBytes(r.bytes), fmtUs(r.p50_us), r.range, fmtUs(r.model_us), r.modelRange, r.ratio.toFixed(2), ok ? 'yes' : 'no']);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
log(`\ncalibrated model vs measurement, ${env.FMI_BENCH_CHANNELS_RANKS} ranks (p50 of the slowest rank per call; load average before ${loadBefore}, after ${loadLine()})`);
for (const r of rows) log(r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
const inside = [...count.values()].reduce((a, c) => a + c[0], 0);
const total = [...count.values()].reduce((a, c) => a + c[1], 0);
const per = [...count].map(([ch, [i, t]]) => `${ch} ${i} of ${t}`).join(', ');
log(`\neach repeat's calibrated model (ms, MB/s), what its cells were priced at:`);
for (const r of results.filter((x) => x.bench === 'calibrate')) log(`  repeat ${r.repeat}: ${calibratedLine(r.model)}`);
log(`\n${inside} of ${total} predictions within ${TOLERANCE * 100}% of the measurement (${per})`);
process.exitCode = code;

/**
 * One cell per op, channel and size: the median of its runs' p50s and of
 * their models (each run priced by the calibration just before it), their
 * ranges, and the median of the runs' model / measured.
 */
function cells(lines) {
  const by = new Map();
  for (const r of lines) {
    const key = `${r.op} ${r.channel} ${r.bytes}`;
    if (!by.has(key)) by.set(key, []);
    by.get(key).push(r);
  }
  return [...by.values()].map((runs) => {
    const priced = runs.filter((r) => r.model_us !== undefined);
    const models = priced.map((r) => r.model_us);
    return {
      ...runs[0],
      p50_us: median(runs.map((r) => r.p50_us)),
      range: rangeOf(runs.map((r) => r.p50_us)),
      model_us: priced.length ? median(models) : undefined,
      modelRange: rangeOf(models),
      ratio: priced.length ? median(priced.map((r) => r.model_us / r.p50_us)) : undefined,
    };
  });
}

/** A calibrate line's model section on one line: `Direct collective_overhead 0.134, ...; FaaS ...`. */
function calibratedLine(model) {
  return Object.entries(model ?? {})
    .map(([section, fields]) => `${section} ${Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(', ')}`)
    .join('; ');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function rangeOf(xs) {
  return xs.length > 1 ? `${fmtUs(Math.min(...xs))}-${fmtUs(Math.max(...xs))}` : '-';
}
