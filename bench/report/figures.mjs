// The benchmark report's figures: Vega-Lite specs built from the result lines
// bench/run.mjs prints (see bench/README.md, "Output"). One figure per
// question: ping-pong latency and bandwidth against size; allreduce and
// bcast against size (per rank count) and against ranks; barrier against
// ranks; per channel, time and cost of bcast and allreduce with the model's
// prediction next to the measurement. Every implementation is a line.

/** Implementations in legend order, with their labels. */
const IMPLS = [
  ['fmi', 'fmi'],
  ['fmi-base', 'fmi (base)'],
  ['raw-socket', 'raw Node socket'],
  ['openmpi-tcp', 'Open MPI (TCP)'],
];
const implLabel = (i) => IMPLS.find(([k]) => k === i)?.[1] ?? i;
const implOrder = IMPLS.map(([, l]) => l);

/** Default prices of the model (the reference's, src/config/defaults.ts), for the measured cost. */
const PRICES = { gibSecond: 0.0000166667, put: 0.0000054, get: 0.00000043 };

const KiB = 1024;
const MiB = KiB * KiB;

/** "8 B", "64 KiB", "1 MiB" for an axis label (a Vega expression). */
const SIZE_LABEL =
  "datum.value >= 1048576 ? format(datum.value / 1048576, '~g') + ' MiB' : datum.value >= 1024 ? format(datum.value / 1024, '~g') + ' KiB' : format(datum.value, '~g') + ' B'";

export function sizeText(b) {
  if (b >= MiB) return `${+(b / MiB).toFixed(2)} MiB`;
  if (b >= KiB) return `${+(b / KiB).toFixed(2)} KiB`;
  return `${b} B`;
}

/** Several lines for one (bench, impl, ranks, bytes, variant): the median p50 of them. */
function dedupe(rows, key) {
  const groups = new Map();
  for (const r of rows) {
    const k = key(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k).push(r);
  }
  return [...groups.values()].map((g) => {
    const s = [...g].sort((a, b) => a.p50_us - b.p50_us);
    return s[(s.length - 1) >> 1];
  });
}

const sizeAxis = (values, title = 'size') => ({
  field: 'bytes',
  type: 'quantitative',
  title,
  scale: { type: 'log', base: 2 },
  axis: { values: [...new Set(values)].sort((a, b) => a - b), labelExpr: SIZE_LABEL, labelAngle: 0, grid: true },
});

const timeAxis = (field = 'p50_us', title = 'time, µs (median)') => ({ field, type: 'quantitative', title, scale: { type: 'log' }, axis: { grid: true } });

const implColor = { field: 'impl', type: 'nominal', title: 'implementation', sort: implOrder };

function lineSpec(values, x, y, color, extra = {}) {
  return {
    data: { values },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: { x, y, color, ...extra },
    width: 420,
    height: 280,
  };
}

/**
 * The figures these results support: [{ name, title, caption, spec }].
 * Figures with nothing to show are left out.
 */
export function figuresFor(results) {
  const out = [];
  const impl = (r) => ({ ...r, impl: implLabel(r.impl) });

  // Ping-pong: the default variant (u8, received into a buffer).
  const pp = dedupe(results.filter((r) => r.bench === 'pingpong' && (r.variant ?? 'u8') === 'u8'), (r) => `${r.impl}|${r.bytes}`).map(impl);
  if (pp.length > 0) {
    const sizes = pp.map((r) => r.bytes);
    out.push({
      name: 'pingpong-latency',
      title: 'Ping-pong latency, 2 ranks',
      caption: 'Half a round trip (median) against message size; lower is better.',
      spec: lineSpec(pp, sizeAxis(sizes, 'message size'), timeAxis(), implColor),
    });
    out.push({
      name: 'pingpong-bandwidth',
      title: 'Ping-pong bandwidth, 2 ranks',
      caption: 'Message size over half a round trip (MB/s, 10^6 bytes); higher is better.',
      spec: lineSpec(pp, sizeAxis(sizes, 'message size'), { field: 'mb_s', type: 'quantitative', title: 'MB/s', scale: { type: 'log' } }, implColor),
    });
  }

  for (const [bench, variant, what] of [
    ['allreduce', 'f64,sum', 'allreduce (Op.SUM, Float64Array)'],
    ['bcast', 'u8', 'bcast from rank 0 (Uint8Array)'],
  ]) {
    const rows = dedupe(results.filter((r) => r.bench === bench && (r.variant ?? variant) === variant), (r) => `${r.impl}|${r.ranks}|${r.bytes}`).map(impl);
    if (rows.length === 0) continue;
    const rankCounts = [...new Set(rows.map((r) => r.ranks))].sort((a, b) => a - b);
    for (const n of rankCounts) {
      const mine = rows.filter((r) => r.ranks === n);
      out.push({
        name: `${bench}-${n}-ranks`,
        title: `${bench}, ${n} ranks`,
        caption: `${what}: time of the slowest rank (median) against size, ${n} ranks; lower is better.`,
        spec: lineSpec(mine, sizeAxis(mine.map((r) => r.bytes)), timeAxis(), implColor),
      });
    }
    if (rankCounts.length > 1) {
      const withSize = rows.map((r) => ({ ...r, size: sizeText(r.bytes) }));
      const sizeOrder = [...new Set(rows.map((r) => r.bytes))].sort((a, b) => a - b).map(sizeText);
      out.push({
        name: `${bench}-vs-ranks`,
        title: `${bench} against ranks`,
        caption: `${what}: time of the slowest rank (median) against the number of ranks, one panel per size.`,
        spec: {
          data: { values: withSize },
          facet: { field: 'size', type: 'ordinal', sort: sizeOrder, title: null },
          columns: 4,
          spec: {
            mark: { type: 'line', point: true, tooltip: true },
            encoding: { x: ranksAxis(rankCounts), y: timeAxis(), color: implColor },
            width: 220,
            height: 240,
          },
        },
      });
    }
  }

  const barrier = dedupe(results.filter((r) => r.bench === 'barrier' && (r.variant ?? 'star') === 'star'), (r) => `${r.impl}|${r.ranks}`).map(impl);
  if (barrier.length > 0) {
    const rankCounts = [...new Set(barrier.map((r) => r.ranks))].sort((a, b) => a - b);
    out.push({
      name: 'barrier',
      title: 'Barrier',
      caption: 'Time of the slowest rank (median) against the number of ranks; lower is better.',
      spec: lineSpec(barrier, ranksAxis(rankCounts), timeAxis(), implColor),
    });
  }

  out.push(...channelFigures(results));
  return out;
}

function ranksAxis(counts) {
  return { field: 'ranks', type: 'quantitative', title: 'ranks', scale: { type: 'log', base: 2 }, axis: { values: counts, format: 'd', grid: true } };
}

/**
 * Per op (bcast, allreduce), the channels' time and cost, measured (solid)
 * and modeled (dashed). Measured cost: the model's cost with its function
 * time replaced by the measured one (every rank billed while it runs) and,
 * on S3, its request prices by the requests really made (PUTs, GETs and
 * polls that found nothing), at the reference's default prices.
 */
function channelFigures(results) {
  const rows = results.filter((r) => r.bench === 'channels' && r.model_us !== undefined);
  const out = [];
  for (const op of [...new Set(rows.map((r) => r.op))]) {
    const mine = dedupe(rows.filter((r) => r.op === op), (r) => `${r.channel}|${r.ranks}|${r.bytes}`);
    const ranks = [...new Set(mine.map((r) => r.ranks))].join(', ');
    const time = mine.flatMap((r) => [
      { bytes: r.bytes, channel: r.channel, source: 'measured', us: r.p50_us },
      { bytes: r.bytes, channel: r.channel, source: 'model', us: r.model_us },
    ]);
    const cost = mine.filter((r) => r.model_usd !== undefined).flatMap((r) => [
      { bytes: r.bytes, channel: r.channel, source: 'measured', usd: measuredUsd(r) },
      { bytes: r.bytes, channel: r.channel, source: 'model', usd: r.model_usd },
    ]);
    const dash = { field: 'source', type: 'nominal', title: null, sort: ['measured', 'model'], legend: { symbolType: 'stroke', symbolStrokeColor: '#555', symbolStrokeWidth: 2 } };
    const channel = { field: 'channel', type: 'nominal', title: 'channel', sort: ['direct', 'redis', 's3'] };
    out.push({
      name: `channels-${op}-time`,
      title: `${op} per channel: time, measured and modeled`,
      caption: `${op} on ${ranks} ranks over each channel: measured median (solid) next to the calibrated model's prediction (dashed).`,
      spec: lineSpec(time, sizeAxis(mine.map((r) => r.bytes)), timeAxis('us', 'time, µs'), channel, { strokeDash: dash }),
    });
    if (cost.length > 0) {
      out.push({
        name: `channels-${op}-cost`,
        title: `${op} per channel: cost, measured and modeled`,
        caption: `USD per ${op} (every rank's function time included): the model's (dashed), and the same with the measured time and, on S3, the requests really made (solid).`,
        spec: lineSpec(cost, sizeAxis(mine.map((r) => r.bytes)), { field: 'usd', type: 'quantitative', title: 'USD per call', scale: { type: 'log' }, axis: { format: '.1e' } }, channel, { strokeDash: dash }),
      });
    }
  }
  return out;
}

function measuredUsd(r) {
  const GiB = 1; // the model's default function memory, 1024 MiB
  const fn = (us) => PRICES.gibSecond * GiB * (us / 1e6) * r.ranks;
  let usd = r.model_usd - fn(r.model_us) + fn(r.p50_us);
  if (r.channel === 's3' && r.s3_put !== undefined && r.model_puts !== undefined) {
    const modeled = r.model_puts * PRICES.put + (r.model_gets + r.model_polls) * PRICES.get;
    const real = r.s3_put * PRICES.put + (r.s3_get + r.s3_miss) * PRICES.get;
    usd += real - modeled;
  }
  return usd;
}
