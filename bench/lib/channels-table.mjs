// The tables of bench/channels.mjs (also printed by bench/run.mjs):
// per op, the time of each channel with the redis/direct and s3/direct
// ratios; the measured time next to the cost model's time and USD; and on
// S3, the requests the ranks really made per call next to the model's.

import { fmtBytes } from './common.mjs';

const CHANNELS = ['direct', 'redis', 's3'];

export function fmtUs(us) {
  if (us === undefined || us === null || Number.isNaN(us)) return '-';
  if (us >= 1_000_000) return `${(us / 1e6).toFixed(2)} s`;
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`;
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`;
  if (us >= 100) return `${us.toFixed(0)} µs`;
  return `${us.toFixed(1)} µs`;
}

function fmtUsd(x) {
  if (x === undefined || x === null || Number.isNaN(x)) return '-';
  return `$${x.toExponential(2)}`;
}

function ratio(a, b) {
  if (a === undefined || b === undefined || !b) return '-';
  return `${(a / b).toFixed(1)}x`;
}

function table(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? String(cell).padEnd(widths[c]) : String(cell).padStart(widths[c]))).join('  ')).join('\n');
}

/** The tables for `results` (JSON lines with bench 'channels'), as one string. */
export function channelsTables(results) {
  const mine = results.filter((r) => r.bench === 'channels');
  if (mine.length === 0) return '';
  const out = [];
  const ops = [...new Set(mine.map((r) => r.op))];
  for (const op of ops) {
    for (const ranks of [...new Set(mine.filter((r) => r.op === op).map((r) => r.ranks))]) {
      const rs = mine.filter((r) => r.op === op && r.ranks === ranks);
      const chans = CHANNELS.filter((c) => rs.some((r) => r.channel === c));
      const sizes = [...new Set(rs.map((r) => r.bytes))].sort((a, b) => a - b);
      const get = (c, b) => rs.find((r) => r.channel === c && r.bytes === b);
      const what = op === 'bcast' ? 'bcast from rank 0 (barrier before each call, not timed)' : 'allreduce Op.SUM (back to back)';

      // 1. time per channel and the ratios to direct
      const head = ['size'];
      for (const c of chans) head.push(`${c} p50`, `${c} p99`);
      const others = chans.filter((c) => c !== 'direct');
      const hasDirect = chans.includes('direct');
      if (hasDirect) for (const c of others) head.push(`${c}/direct p50`, `p99`);
      const rows = [head];
      for (const b of sizes) {
        const row = [fmtBytes(b)];
        for (const c of chans) {
          const r = get(c, b);
          row.push(fmtUs(r?.p50_us), fmtUs(r?.p99_us));
        }
        if (hasDirect) {
          const d = get('direct', b);
          for (const c of others) {
            const r = get(c, b);
            row.push(ratio(r?.p50_us, d?.p50_us), ratio(r?.p99_us, d?.p99_us));
          }
        }
        rows.push(row);
      }
      out.push(`\n${what}, Float64Array, ${ranks} ranks: time of the slowest rank per call`);
      out.push(table(rows));

      // 2. measured vs the cost model
      const mh = ['size'];
      for (const c of chans) mh.push(`${c} p50`, `model`, `meas/model`, `model USD/op`);
      const mrows = [mh];
      for (const b of sizes) {
        const row = [fmtBytes(b)];
        for (const c of chans) {
          const r = get(c, b);
          row.push(fmtUs(r?.p50_us), fmtUs(r?.model_us), ratio(r?.p50_us, r?.model_us), fmtUsd(r?.stats_usd ?? r?.model_usd));
        }
        mrows.push(row);
      }
      out.push(`\n${op}, ${ranks} ranks: measured p50 next to the cost model (time; USD per call from comm.stats(), whole job incl. function time)`);
      out.push(table(mrows));

      // 3. S3: requests per call
      const s3 = sizes.map((b) => get('s3', b)).filter((r) => r && r.s3_put !== undefined);
      if (s3.length > 0) {
        const sh = ['size', 'PUT', 'GET', 'miss', 'other', 'model PUT', 'GET', 'polls', 'PUT ms', 'GET ms', 'miss ms', 'chain', 'p50', 'p50 - chain'];
        const srows = [sh];
        for (const r of s3) {
          // The shortest chain of requests one call needs (store-and-forward steps, each a PUT then a GET).
          const steps = op === 'bcast' ? 1 : 2;
          const floor = steps * ((r.s3_put_ms ?? 0) + (r.s3_get_ms ?? 0)) * 1000;
          srows.push([
            fmtBytes(r.bytes),
            r.s3_put.toFixed(1),
            r.s3_get.toFixed(1),
            r.s3_miss.toFixed(1),
            r.s3_other.toFixed(1),
            String(r.model_puts ?? '-'),
            String(r.model_gets ?? '-'),
            r.model_polls === undefined ? '-' : r.model_polls.toFixed(1),
            r.s3_put_ms?.toFixed(1) ?? '-',
            r.s3_get_ms?.toFixed(1) ?? '-',
            r.s3_miss_ms?.toFixed(1) ?? '-',
            fmtUs(floor),
            fmtUs(r.p50_us),
            fmtUs(r.p50_us - floor),
          ]);
        }
        out.push(
          `\n${op} on s3, ${ranks} ranks: requests per call, all ranks together (measured during the timed calls | the model's); mean PUT / GET-hit / miss latency (ms, to the response headers); ` +
            (op === 'bcast'
              ? 'chain = one PUT + one GET; p50 - chain < 0 when readers leave the barrier after the root and part of the PUT is behind them already'
              : 'chain = two PUT + GET steps (the parts to rank 0, the result back); p50 - chain: time between requests (poll backoff, scheduling)'),
        );
        out.push(table(srows));
      }
    }
  }
  out.push('\nratios: p50 (p99) of the channel divided by direct\'s, same op and size (>1: slower than direct).');
  return out.join('\n');
}
