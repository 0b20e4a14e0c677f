// What an 8 B ping-pong allocates on V8's heap per round trip, and where: run
// as the 2 ranks of a job,
//   npm run build && node dist/cli/main.js run -n 2 --no-prefix bench/node-alloc-sites.mjs
// Each rank prints the new-space bytes one round trip allocates (median over
// windows of 200 round trips that saw no scavenge: the growth of new space's
// used size). Rank 0 then prints the allocation sites of FMI_BENCH_CALLS
// (default 20000) round trips from V8's sampling heap profiler (one sample
// per 32 bytes, objects freed by scavenges included): bytes per round trip by
// function and its two callers. Bytes allocated are what the scavenges that
// follow cost; fresh typed-array views and promises show up here, not in
// process.memoryUsage().arrayBuffers (bench/lib/alloc-meter.mjs).
// FMI_BENCH_FMI_DIST=/other/checkout/dist/index.js measures that build.

import { Session } from 'node:inspector';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';

const { init } = await import(process.env.FMI_BENCH_FMI_DIST ? pathToFileURL(process.env.FMI_BENCH_FMI_DIST).href : 'fmi');
const CALLS = Number(process.env.FMI_BENCH_CALLS ?? 20000);
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
await rounds(5000);

const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
const perRound = [];
for (let k = 0; k < 20; k++) {
  const a = newSpace();
  await rounds(200);
  const b = newSpace();
  if (b > a) perRound.push((b - a) / 200);
}
perRound.sort((x, y) => x - y);
console.log(JSON.stringify({ rank: comm.rank, new_space_bytes_per_round_trip: Math.round(perRound[perRound.length >> 1]), windows: perRound.length }));

const session = new Session();
session.connect();
const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
if (comm.rank === 0) await post('HeapProfiler.startSampling', { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
await rounds(CALLS);
if (comm.rank === 0) {
  const { profile } = await post('HeapProfiler.stopSampling');
  const bySite = new Map();
  const name = (n) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\//, '')}:${n.callFrame.lineNumber + 1}`;
  const walk = (n, callers) => {
    const site = `${name(n)}${callers.length ? `  <- ${callers.join(' <- ')}` : ''}`;
    if (n.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c, [name(n).split(' ')[0], ...callers].slice(0, 2));
  };
  walk(profile.head, []);
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  console.log(`rank 0, sampled: ${(total / CALLS).toFixed(0)} bytes per round trip`);
  for (const [site, bytes] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${(bytes / CALLS).toFixed(0).padStart(6)}  ${site}`);
}
await comm.close();
