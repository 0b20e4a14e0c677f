// Reads a V8 .cpuprofile (node --cpu-prof) and tells where the time went:
// self time per function (file:line), and total (inclusive) time of the
// package's own functions, so a hot path inside dist/ shows with its caller
// chain folded in. Lines are 1-based, of the dist/*.js file; the source
// maps next to them lead back to src/*.ts.

import { readFileSync } from 'node:fs';

export function summarizeProfile(path, top = 25) {
  const p = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Self time per node: each sample's interval goes to the sampled node.
  const self = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const label = (n) => {
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|bench|node_modules)\//, '$1/');
    return `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
  };

  const selfBy = new Map();
  for (const [id, t] of self) {
    const k = label(byId.get(id));
    selfBy.set(k, (selfBy.get(k) ?? 0) + t);
  }
  // Inclusive time: a sample counts once for every distinct function on its stack.
  const inclBy = new Map();
  for (const [id, t] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur));
      if (seen.has(k)) continue;
      seen.add(k);
      inclBy.set(k, (inclBy.get(k) ?? 0) + t);
    }
  }
  const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
  const ms = (t) => `${(t / 1000).toFixed(0).padStart(6)} ms`;
  const lines = [`total ${(total / 1000).toFixed(0)} ms sampled`, '', 'self time:'];
  for (const [k, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(t)} ${ms(t)}  ${k}`);
  lines.push('', 'total time, dist/ and bench/ functions:');
  const own = [...inclBy].filter(([k]) => / (dist|bench)\//.test(k)).sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, t] of own) lines.push(`  ${pct(t)} ${ms(t)}  ${k}`);
  return lines.join('\n');
}
