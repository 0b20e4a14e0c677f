// What one large collective call allocates per rank, in the steady state:
// ArrayBuffer bytes (process.memoryUsage().arrayBuffers over a window that
// started after a full GC and saw none, see lib/alloc-meter.mjs) and minor
// page faults, per call. Not part of the driver; the numbers behind
// bench/README.md ("Allocations per message").
//   node dist/cli/main.js run -n 4 --no-prefix bench/coll-alloc.mjs
//   OPS=allreduce:rabenseifner FMI_BENCH_SIZES=1m INTO=0,1 node dist/cli/main.js run -n 4 --no-prefix bench/coll-alloc.mjs
//
// Environment: OPS (comma-separated: bcast, allreduce:ring,
// allreduce:rabenseifner, allreduce:recursive-doubling; default all four),
// FMI_BENCH_SIZES (default 64k,1m,4m), INTO (0, 1 or 0,1: without and/or with
// `{ into }`), N (calls per window, default 20).
// stdout (rank 0): one line per case with every rank's bytes and faults per call,
// and the bytes as multiples of the vector size.
// The faults overstate the steady state: the full GC before each window hands
// freed memory back to the kernel, so every fresh result in the window faults
// in whole (bench/coll-phase.mjs counts them call by call without a forced GC).

process.env.FMI_BENCH_ALLOC = '1';
const { meter } = await import('./lib/alloc-meter.mjs');
const { sizesFrom } = await import('./lib/common.mjs');
const { init, Op } = await import('fmi');

const comm = await init();
const { rank } = comm;
const ops = (process.env.OPS || 'bcast,allreduce:ring,allreduce:rabenseifner,allreduce:recursive-doubling').split(',');
const sizes = sizesFrom([64 * 1024, 1024 * 1024, 4 * 1024 * 1024]);
const intos = (process.env.INTO || '0,1').split(',').map((x) => x === '1');
const N = Number(process.env.N || 20);

for (const bytes of sizes) {
  const data = new Float64Array(bytes / 8).fill(rank + 1);
  for (const spec of ops) {
    const [op, algorithm] = spec.split(':');
    for (const withInto of intos) {
      const into = withInto ? new Float64Array(bytes / 8) : undefined;
      const call =
        op === 'bcast'
          ? () => comm.bcast(rank === 0 ? data : undefined, 0, into ? { into } : {})
          : () => comm.allreduce(data, Op.SUM, { algorithm, ...(into ? { into } : {}) });
      let out;
      for (let i = 0; i < 5; i++) out = await call();
      const want = op === 'bcast' ? 1 : (comm.size * (comm.size + 1)) / 2;
      if (out[0] !== want || out[out.length - 1] !== want) throw new Error(`${spec}: rank ${rank} got ${out[0]}, expected ${want}`);
      await comm.barrier();
      const m = await meter(
        N,
        async (n) => {
          for (let i = 0; i < n; i++) await call();
        },
        async (spoiled) => (await comm.allreduce(spoiled ? 1 : 0, Op.MAX)) === 1,
      );
      const all = await comm.gather(m, 0);
      if (rank === 0) {
        const b = all.map((x) => Math.round(x.bytes));
        const f = all.map((x) => Math.round(x.faults));
        const spoiled = all.some((x) => x.spoiled) ? ' (a GC ran in every window)' : '';
        console.log(
          `${spec.padEnd(31)} ${String(bytes).padStart(8)} B ${withInto ? 'into ' : 'fresh'}: bytes/call ${b.join(' ')} ` +
            `(x size: ${b.map((x) => (x / bytes).toFixed(2)).join(' ')}), faults/call ${f.join(' ')}${spoiled}`,
        );
      }
    }
  }
}
await comm.close();
