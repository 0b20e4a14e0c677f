import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { enabledChannels, loadConfig } from '../config/load.js';
import { BACKEND_OF, type ChannelName, type FmiConfig } from '../config/types.js';
import { withModel, writeConfigFile } from '../config/update.js';
import { FmiError } from '../errors.js';
import { fitChannel, fitFresh, modelPatch, type ChannelFit, type ChannelMeasurements, type FreshFit, type ModelPatch } from '../model/calibration.js';
import { estimate } from '../model/estimate.js';
import { CHANNELS, type ModelChannel } from '../model/types.js';
import type { CalibratePlan } from './calibrate-rank.js';
import { runLocal } from './run.js';

export const CALIBRATE_USAGE = `Usage:
  fmi calibrate [--config fmi.json] [-n 4] [--out file] [--channels direct,redis,s3]
                [--threads] [--quick] [--json]
      Measure latency and bandwidth of every channel the config enables
      (direct alone without --config) between N real local ranks, and write
      them into the config's model section (overhead in ms, bandwidth in
      MB/s), keeping its other settings. --threads: also run the direct
      channel's job as threads of one process, which talk through shared
      memory (the shm channel, model.Shm). --out: where to write (default: the
      --config file, or ./fmi.json). --quick: a short, rougher run. --json:
      print what was measured and fitted as one JSON object. The table
      shows each size's measurement, the fitted line, the ping-pong, and
      the calibrated model's point-to-point message (on S3 with polling).
`;

/**
 * Warm-up (calibrate-rank's warmUp) before the first measurement: rounds,
 * and at most this long. V8 had not yet optimized the collectives after
 * 1,000 rounds (an 8-byte allreduce 353 µs there, 210-230 µs from 1,250
 * calls on); the model check's benchmark warms each op up 2,000 calls
 * and its first size 4,000 more. S3's calls take tens of ms: none.
 */
const WARM = { calls: 2500, ms: 10_000 };
/** What to measure on each channel: sizes, time per size, iteration bounds, warm-up. */
export const PLANS: Readonly<Record<ModelChannel, CalibratePlan>> = {
  direct: { sizes: [8, 1024, 16384, 65536, 262144, 524288, 1048576], ms: 300, minIters: 50, maxIters: 20_000, exchange: true, bursts: [1, 4, 16], barrier: true, allreduce: true, fanout: true, warm: WARM },
  shm: { sizes: [8, 1024, 16384, 65536, 262144, 524288, 1048576], ms: 300, minIters: 50, maxIters: 50_000, exchange: true, bursts: [1, 4, 16], barrier: true, allreduce: true, fanout: true, warm: WARM },
  redis: { sizes: [8, 1024, 65536, 1048576], ms: 300, minIters: 20, maxIters: 5_000, exchange: false, bursts: [1, 4, 16], fanout: true, fanin: true, allreduce: true, warm: WARM },
  s3: { sizes: [8, 65536, 1048576], ms: 600, minIters: 5, maxIters: 200, exchange: false, bursts: [1, 4] },
};

/** Sizes at which one job times fresh memory (FaaS.fresh_memory, fresh_overhead): the direct channel's if it is calibrated, else the first. From FRESH_MIN_BYTES. */
export const FRESH_SIZES: readonly number[] = [65536, 262144, 1048576];

export interface CalibrateOptions {
  /** The config to calibrate (its enabled backends are measured); none: the direct channel alone. */
  configPath?: string;
  /** @default 4 */
  ranks?: number;
  /** Where to write the calibrated config. @default configPath, or ./fmi.json */
  out?: string;
  /** Measure only these (enabled) channels. @default every enabled channel */
  channels?: ChannelName[];
  /** Also measure shm: the direct channel's job as threads of one process (needs direct enabled). */
  threads?: boolean;
  /** Shorter measurements (~1/10 of the time), for smoke tests. */
  quick?: boolean;
  /** Progress lines. @default to stderr */
  log?: (line: string) => void;
}

/** The measured ping-pong next to the calibrated model's point-to-point message (S3: with its polling; received `into`, as the ping-pong does). */
export interface SendCheck {
  channel: ModelChannel;
  bytes: number;
  measured_s: number;
  model_s: number;
}

export interface Calibration {
  out: string;
  ranks: number;
  /** What was measured: the channels, then 'shm' with `threads`. */
  channels: ModelChannel[];
  measurements: ChannelMeasurements[];
  fits: ChannelFit[];
  model: ModelPatch;
  /** The written config's model against the measured ping-pong, per channel and size. */
  sends: SendCheck[];
  /** Fresh memory's seconds per result and per byte (FaaS.fresh_overhead, fresh_memory), when measured. */
  fresh?: FreshFit;
}

/**
 * Runs the calibration: one job of N ranks per channel (fmi run's launcher,
 * the channel forced), fits each channel's latency and bandwidth, and writes
 * the config with its model section updated.
 */
export async function calibrate(o: CalibrateOptions = {}): Promise<Calibration> {
  const ranks = o.ranks ?? 4;
  if (!Number.isInteger(ranks) || ranks < 2 || ranks > 1024) {
    throw new FmiError('MPI_ERR_ARG', `calibrate needs an integer number of ranks from 2 to 1024, got ${ranks}`, { op: 'calibrate' });
  }
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const configPath = o.configPath === undefined ? undefined : resolve(o.configPath);
  const text = configPath === undefined ? undefined : readText(configPath);
  const config: FmiConfig | undefined = configPath === undefined ? undefined : loadConfig(configPath);
  const enabled = config ? enabledChannels(config) : (['direct'] as ChannelName[]);
  const channels = o.channels ?? enabled;
  for (const c of channels) {
    if (!CHANNELS.includes(c)) throw new FmiError('MPI_ERR_ARG', `unknown channel ${JSON.stringify(c)} (known: ${CHANNELS.join(', ')})`, { op: 'calibrate' });
    if (!enabled.includes(c)) {
      throw new FmiError('FMI_CONFIG', `channel ${c} is not enabled in ${configPath ?? 'the default config (direct only)'}: set backends.${BACKEND_OF[c]}.enabled`, { op: 'calibrate', channel: c });
    }
  }
  if (channels.length === 0) throw new FmiError('MPI_ERR_ARG', 'no channel to calibrate', { op: 'calibrate' });
  if (o.threads && !enabled.includes('direct')) {
    throw new FmiError('FMI_CONFIG', `--threads measures the direct channel between threads (shm): ${configPath ?? 'the config'} does not enable backends.Direct`, { op: 'calibrate', channel: 'direct' });
  }
  const jobs: ModelChannel[] = o.threads ? [...channels, 'shm'] : [...channels];
  const out = resolve(o.out ?? configPath ?? 'fmi.json');

  const script = rankScript();
  const dir = mkdtempSync(join(tmpdir(), 'fmi-calibrate-'));
  const measurements: ChannelMeasurements[] = [];
  // The direct channel's job times fresh memory inside a bcast, where a result is new memory; without it, the first job allocates in a loop.
  const freshJob = jobs.includes('direct') ? 'direct' : jobs[0];
  try {
    for (const channel of jobs) {
      const base = channel === freshJob ? { ...PLANS[channel], fresh: [...FRESH_SIZES] } : PLANS[channel];
      const plan = o.quick ? quick(base) : base;
      const file = join(dir, `${channel}.json`);
      log(`fmi calibrate: ${channel}, ${ranks} ranks, sizes ${plan.sizes.join(', ')} B (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
      // shm: the direct channel, its ranks threads of one process (fmi run --threads).
      const env: NodeJS.ProcessEnv = { FMI_CHANNEL: channel === 'shm' ? 'direct' : channel, FMI_CALIBRATE_OUT: file, FMI_CALIBRATE_PLAN: JSON.stringify(plan) };
      if (configPath !== undefined) env.FMI_CONFIG = configPath;
      const code = await runLocal({ ranks, script, args: [], env, threads: channel === 'shm' ? ranks : undefined });
      if (code !== 0 || !existsSync(file)) {
        throw new FmiError('FMI_CHANNEL', `calibrating ${channel} failed: its ranks exited with code ${code} (their messages are above)`, { op: 'calibrate', channel });
      }
      measurements.push(JSON.parse(readFileSync(file, 'utf8')) as ChannelMeasurements);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fits = measurements.map(fitChannel);
  const timedFresh = measurements.find((m) => m.fresh?.length)?.fresh;
  const fresh = timedFresh ? fitFresh(timedFresh) : undefined;
  const model = modelPatch(fits, fresh);
  const calibration = {
    date: new Date().toISOString(),
    ranks,
    load: Object.fromEntries(measurements.map((m) => [m.channel, m.load.map((x) => x.toFixed(2)).join(' ')])),
    how: 'fmi calibrate: direct, shm and redis from a ping-pong, s3 from one write and one read of a value; exchange_* from every rank swapping a message at once, partners changing as in recursive doubling; collective_overhead from an 8-byte allreduce, barrier_overhead from the barrier, timed in turn; fanout_overhead from rank 0 sending to every rank at once after a barrier; fanin_* from the allreduce back to back at the sizes less the modeled release (redis; the fan-in alone after a barrier kept in the JSON); overhead_multiple from every rank writing and reading at once; gap from bursts of messages to one rank; fresh_memory and fresh_overhead from an allreduce without `into` against one with it (direct; other channels: new arrays against reused ones) (docs/model.md)',
  };
  // The base is the config; without one, the file at `out` if there is one (only its model's measured fields change).
  const base = text ?? (existsSync(out) ? readText(out) : undefined);
  writeConfigFile(out, withModel(base, model, calibration, out));
  const written = loadConfig(out);
  const sends = measurements.flatMap((m) =>
    m.pingpong.map((p) => ({ channel: m.channel, bytes: p.bytes, measured_s: p.seconds, model_s: estimate(m.channel, 'send', p.bytes, ranks, written, { into: true }).time_s })),
  );
  return { out, ranks, channels: jobs, measurements, fits, model, sends, fresh };
}

/** `fmi calibrate`: resolves to the exit code. */
export async function calibrateCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        n: { type: 'string', short: 'n' },
        out: { type: 'string', short: 'o' },
        channels: { type: 'string' },
        threads: { type: 'boolean' },
        quick: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`fmi calibrate: ${(err as Error).message}\n\n${CALIBRATE_USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(CALIBRATE_USAGE);
    return 0;
  }
  const ranks = values.n === undefined ? 4 : Number(values.n);
  if (!Number.isInteger(ranks) || ranks < 2) {
    process.stderr.write(`fmi calibrate: -n needs an integer of at least 2, got ${JSON.stringify(values.n)}\n\n${CALIBRATE_USAGE}`);
    return 2;
  }
  const channels = values.channels?.split(',').map((s) => s.trim()).filter(Boolean) as ChannelName[] | undefined;
  let result: Calibration;
  try {
    result = await calibrate({ configPath: values.config, ranks, out: values.out, channels, threads: values.threads, quick: values.quick });
  } catch (err) {
    if (err instanceof FmiError) {
      process.stderr.write(`fmi calibrate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(values.json ? `${JSON.stringify(jsonOf(result))}\n` : report(result));
  return 0;
}

/** The rank script, built beside this file; run from the TypeScript sources (tests), the built one in dist/. */
function rankScript(): string {
  const beside = fileURLToPath(new URL('./calibrate-rank.js', import.meta.url));
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../dist/cli/calibrate-rank.js', import.meta.url));
}

function quick(p: CalibratePlan): CalibratePlan {
  return { ...p, ms: Math.max(20, p.ms / 10), minIters: Math.max(3, Math.ceil(p.minIters / 10)), warm: p.warm && { calls: 50, ms: 300 } };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FmiError('FMI_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function jsonOf(r: Calibration) {
  return {
    out: r.out,
    ranks: r.ranks,
    model: r.model,
    sends: r.sends,
    fresh_s_per_byte: r.fresh?.perByte,
    fresh_s_per_call: r.fresh?.perCall,
    fresh: r.measurements.find((m) => m.fresh?.length)?.fresh,
    fresh_bcast: r.measurements.find((m) => m.freshBcast?.length)?.freshBcast,
    channels: Object.fromEntries(
      r.fits.map((f, i) => {
        const m = r.measurements[i]!;
        return [f.channel, { source: f.source, alpha_s: f.fit.alpha, beta_bytes_s: f.fit.beta, gap_s: f.gap, exchange_alpha_s: f.exchange?.alpha, exchange_beta_bytes_s: f.exchange?.beta, alpha_all_s: f.alphaAll, alpha_coll_s: f.alphaColl, alpha_barrier_s: f.alphaBarrier, alpha_fan_s: f.alphaFan, fanin_alpha_s: f.fanIn?.alpha, fanin_beta_bytes_s: f.fanIn?.beta, fanin: m.fanin, barrier: m.barrier, allreduce: m.allreduce, fanout: m.fanout, burst: m.burst, beta_total_bytes_s: f.betaTotal, max_rel_error: f.fit.maxRelError, load: m.load, points: f.points, pingpong: m.pingpong, exchange: m.exchange, legs: m.legs, legs_all: m.legsAll, warm: m.warm }];
      }),
    ),
  };
}

/** For people: per channel the fitted line and each point next to it. */
export function report(r: Calibration): string {
  const lines = [`fmi calibrate: ${r.ranks} ranks; wrote the model section of ${r.out}`];
  if (r.fresh !== undefined) {
    const bcast = r.measurements.find((m) => m.freshBcast?.length)?.freshBcast;
    const how = bcast ? `a copied result: an allreduce without \`into\` against with it; a bcast's, not charged: ${bcast.map((f) => `${us(f.put - f.get)} at ${f.bytes} B`).join(', ')}` : 'allocated and touched';
    lines.push(`fresh memory: ${(r.fresh.perCall * 1e3).toPrecision(3)} ms per result + ${(r.fresh.perByte * 2 ** 20 * 1e3).toPrecision(3)} ms per MiB ${how}`);
  }
  for (const [i, f] of r.fits.entries()) {
    const m = r.measurements[i]!;
    const tot = f.betaTotal !== undefined ? `, ${(f.betaTotal / 1e6).toPrecision(3)} MB/s all ranks at once` : '';
    let all = f.exchange ? `, exchange round ${(f.exchange.alpha * 1e3).toPrecision(3)} ms + bytes at ${(f.exchange.beta / 1e6).toPrecision(3)} MB/s` : f.alphaAll !== undefined ? `, overhead with every rank at once ${(f.alphaAll * 1e3).toPrecision(3)} ms` : '';
    if (f.alphaColl !== undefined) all += `, hop in a collective ${(f.alphaColl * 1e3).toPrecision(3)} ms${m.allreduce?.length ? ` (8 B allreduce ${m.allreduce.map((a) => us(a.seconds)).join(' ')})` : ''}`;
    if (m.barrier?.length) all += `, ${f.alphaBarrier !== undefined ? `in the barrier ${(f.alphaBarrier * 1e3).toPrecision(3)} ms ` : ''}(barrier ${m.barrier.map((b) => us(b.seconds)).join(' ')})`;
    if (f.alphaFan !== undefined) all += `, fan-out ${(f.alphaFan * 1e3).toPrecision(3)} ms`;
    if (f.fanIn !== undefined) all += `, fan-in ${(f.fanIn.alpha * 1e3).toPrecision(3)} ms + bytes at ${(f.fanIn.beta / 1e6).toPrecision(3)} MB/s${m.channel === 'redis' && m.allreduce?.length ? ` (allreduce ${m.allreduce.map((a) => us(a.seconds)).join(' ')})` : ''}`;
    lines.push('', `${f.channel}: overhead ${(f.fit.alpha * 1e3).toPrecision(3)} ms, bandwidth ${(f.fit.beta / 1e6).toPrecision(3)} MB/s${tot}, gap ${(f.gap * 1e3).toPrecision(3)} ms${all} (fitted to: ${f.source}; load average ${m.load.map((x) => x.toFixed(2)).join(' ')})`);
    lines.push(`  ${'size'.padStart(8)}  ${'measured'.padStart(10)}  ${'fitted'.padStart(10)}  ${'ping-pong'.padStart(10)}  ${'model send'.padStart(10)}`);
    for (const p of f.points) {
      const pp = m.pingpong.find((s) => s.bytes === p.bytes);
      const send = r.sends.find((s) => s.channel === f.channel && s.bytes === p.bytes);
      lines.push(`  ${String(p.bytes).padStart(8)}  ${us(p.seconds).padStart(10)}  ${us(f.fit.alpha + p.bytes / f.fit.beta).padStart(10)}  ${(pp ? us(pp.seconds) : '-').padStart(10)}  ${(send ? us(send.model_s) : '-').padStart(10)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function us(s: number): string {
  return s >= 0.01 ? `${(s * 1e3).toFixed(2)} ms` : `${(s * 1e6).toFixed(1)} µs`;
}
