import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG } from '../config/defaults.js';
import { enabledChannels, loadConfig } from '../config/load.js';
import type { FmiConfig } from '../config/types.js';
import { FmiError } from '../errors.js';
import { choose } from '../model/policy.js';
import { CHANNELS, MODEL_CHANNELS, OPS, type ModelChannel, type Choice, type ModelOptions, type OpName } from '../model/types.js';

export const MODEL_USAGE = `Usage:
  fmi model [--config fmi.json] [--ranks 64] [--memory 1024] [--ops bcast,allreduce]
            [--channels direct,redis,s3,shm] [--ops-per-hour N] [--json]
      Print the performance and cost model: for each operation and message
      sizes from 8 B to 1 GiB, the modeled time and cost on each channel and
      the channel each hint (fast, cheap) picks. Without --config, the
      reference's default prices and all three channels; with it, the
      channels it enables. --channels may name shm too (thread ranks of one
      process over shared memory, model.Shm). --ops-per-hour: how often the job runs each
      operation (splits the Redis instance's and the rendezvous VM's hourly
      price among those operations). --json: one JSON line per operation
      and size.
`;

const DEFAULT_OPS: OpName[] = ['send', 'bcast', 'barrier', 'gather', 'scatter', 'reduce', 'allreduce', 'scan'];

/** 8 B, 32 B, ... 512 MiB (powers of 4 from 8), then 1 GiB. */
export const MODEL_SIZES: readonly number[] = [...Array.from({ length: 14 }, (_, k) => 8 * 4 ** k), 2 ** 30];

class UsageError extends Error {}

/** `fmi model`: prints the model's table (or JSON lines) on stdout; returns the exit code. */
export async function modelCommand(argv: string[]): Promise<number> {
  let o: ReturnType<typeof parse>;
  try {
    o = parse(argv);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`fmi model: ${(err as Error).message}\n\n${MODEL_USAGE}`);
      return 2;
    }
    throw err;
  }
  if (o.help) {
    process.stdout.write(MODEL_USAGE);
    return 0;
  }
  let config: FmiConfig;
  try {
    config = o.configPath === undefined ? DEFAULT_CONFIG : loadConfig(o.configPath);
  } catch (err) {
    if (err instanceof FmiError) {
      process.stderr.write(`fmi model: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const channels = o.channels ?? (o.configPath === undefined ? [...CHANNELS] : enabledChannels(config));
  // Priced as fmi runs them for a TypedArray with a predefined op (tree, recursive doubling, Rabenseifner or ring).
  const options: ModelOptions = { memoryMiB: o.memory, opsPerHour: o.opsPerHour, directAllreduce: 'auto' };
  const rows: Row[] = [];
  for (const op of o.ops) {
    for (const bytes of op === 'barrier' ? [0] : MODEL_SIZES) {
      const fast = choose(op, bytes, o.ranks, 'fast', channels, config, options);
      const cheap = choose(op, bytes, o.ranks, 'cheap', channels, config, options);
      rows.push({ op, bytes, fast, cheap });
    }
  }
  const out = o.json ? jsonLines(rows, o.ranks, o.memory, o.opsPerHour) : table(rows, channels, o, config === DEFAULT_CONFIG);
  process.stdout.write(out);
  return 0;
}

interface Row {
  op: OpName;
  bytes: number;
  fast: Choice;
  cheap: Choice;
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      ranks: { type: 'string', short: 'n' },
      memory: { type: 'string', short: 'm' },
      ops: { type: 'string' },
      channels: { type: 'string' },
      'ops-per-hour': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  const ranks = Number(values.ranks ?? 64);
  if (!Number.isInteger(ranks) || ranks < 1) throw new UsageError(`--ranks needs a positive integer, got ${JSON.stringify(values.ranks)}`);
  const memory = Number(values.memory ?? 1024);
  if (!Number.isFinite(memory) || memory <= 0) throw new UsageError(`--memory needs a size in MiB, got ${JSON.stringify(values.memory)}`);
  let opsPerHour: number | undefined;
  if (values['ops-per-hour'] !== undefined) {
    opsPerHour = Number(values['ops-per-hour']);
    if (!Number.isFinite(opsPerHour) || opsPerHour <= 0) throw new UsageError(`--ops-per-hour needs a positive number, got ${JSON.stringify(values['ops-per-hour'])}`);
  }
  const ops = values.ops === undefined ? DEFAULT_OPS : list(values.ops, OPS, '--ops');
  const channels = values.channels === undefined ? undefined : list(values.channels, MODEL_CHANNELS, '--channels');
  return { configPath: values.config, ranks, memory, opsPerHour, ops, channels, json: values.json ?? false, help: values.help ?? false };
}

function list<T extends string>(text: string, known: readonly T[], flag: string): T[] {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const i of items) if (!known.includes(i as T)) throw new UsageError(`${flag}: unknown ${JSON.stringify(i)} (known: ${known.join(', ')})`);
  if (items.length === 0) throw new UsageError(`${flag} needs at least one of ${known.join(', ')}`);
  return [...new Set(items)] as T[];
}

function jsonLines(rows: Row[], ranks: number, memory: number, opsPerHour?: number): string {
  return rows
    .map((r) => {
      const estimates: Record<string, { time_s: number; cost_usd: number }> = {};
      for (const e of r.fast.alternatives) estimates[e.channel] = { time_s: e.time_s, cost_usd: e.cost_usd };
      return JSON.stringify({ op: r.op, bytes: r.bytes, ranks, memory_mib: memory, ops_per_hour: opsPerHour ?? null, estimates, fast: r.fast.channel, cheap: r.cheap.channel });
    })
    .map((l) => `${l}\n`)
    .join('');
}

function table(rows: Row[], channels: readonly ModelChannel[], o: ReturnType<typeof parse>, defaults: boolean): string {
  const lines: string[] = [];
  const source = defaults ? 'defaults (the reference\'s config/fmi.json)' : o.configPath!;
  const share = o.opsPerHour === undefined ? 'per request, over requests_per_hour' : `over ${o.opsPerHour} operation${o.opsPerHour === 1 ? "" : "s"} per hour`;
  lines.push(`fmi model: ${o.ranks} ranks, ${o.memory} MiB per function; config: ${source}`);
  lines.push(`channels: ${channels.join(', ')}; Redis/VM hourly price shared ${share}`);
  lines.push('time: modeled completion; cost: USD per operation, every rank\'s function time included');
  const header = ['size', ...channels.flatMap((c) => [`${c} time`, `${c} cost`]), 'fast', 'cheap'];
  for (const op of o.ops) {
    const body = rows
      .filter((r) => r.op === op)
      .map((r) => {
        const by = new Map(r.fast.alternatives.map((e) => [e.channel, e]));
        return [
          op === 'barrier' ? '-' : size(r.bytes),
          ...channels.flatMap((c) => [seconds(by.get(c)!.time_s), usd(by.get(c)!.cost_usd)]),
          r.fast.channel,
          r.cheap.channel,
        ];
      });
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
    const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
    lines.push('', `${op}${op === 'send' ? ' (point to point)' : ''}`, fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt));
  }
  return `${lines.join('\n')}\n`;
}

function size(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (b >= 1024 && i < units.length - 1 && b % 1024 === 0) {
    b /= 1024;
    i++;
  }
  return `${b} ${units[i]}`;
}

function seconds(s: number): string {
  if (s === 0) return '0';
  if (s < 1e-3) return `${sig(s * 1e6)} us`;
  if (s < 1) return `${sig(s * 1e3)} ms`;
  return `${sig(s)} s`;
}

function sig(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(3);
}

function usd(x: number): string {
  return x === 0 ? '$0' : `$${x.toExponential(2)}`;
}
