// Writes the benchmark report: one SVG per figure (Vega-Lite compiled to
// Vega, rendered headless in Node: no browser, no canvas) and an index.html
// that shows them with their captions.
//   node bench/run.mjs --report DIR                      run, then chart
//   node bench/run.mjs --report DIR --from results.jsonl chart saved results

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { figuresFor } from './figures.mjs';

/** Result lines of a saved run (`npm run bench > results.jsonl`): every line that parses as a result object. */
export function readResults(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read results ${path}: ${err.message}`);
  }
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const r = JSON.parse(line);
      if (typeof r.bench === 'string' && typeof r.p50_us === 'number') out.push(r);
    } catch {
      /* not a result line */
    }
  }
  return out;
}

/** One Vega-Lite spec as SVG text. */
export async function toSvg(spec, title) {
  const full = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, background: 'white', config: { font: 'Helvetica, Arial, sans-serif' }, ...spec };
  const view = new vega.View(vega.parse(vl.compile(full).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Writes DIR/<figure>.svg for every figure the results support, and
 * DIR/index.html. `meta`: lines shown at the top (machine, load, command).
 * Returns the files written.
 */
export async function writeReport(results, dir, meta = []) {
  mkdirSync(dir, { recursive: true });
  const figures = figuresFor(results);
  const files = [];
  for (const f of figures) {
    const file = `${f.name}.svg`;
    writeFileSync(join(dir, file), await toSvg(f.spec, f.title));
    files.push(file);
  }
  writeFileSync(join(dir, 'index.html'), page(figures, meta, results.length));
  files.push('index.html');
  return files;
}

function page(figures, meta, count) {
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
  const items = figures.map((f) => `<figure id="${esc(f.name)}">\n  <img src="${esc(f.name)}.svg" alt="${esc(f.title)}">\n  <figcaption><b>${esc(f.title)}.</b> ${esc(f.caption)}</figcaption>\n</figure>`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fmi benchmarks</title>
<style>
body { font-family: Helvetica, Arial, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
figure { margin: 2rem 0; } img { max-width: 100%; } figcaption { font-size: 0.9rem; color: #444; }
code { background: #f4f4f4; padding: 0 0.2rem; }
</style>
</head>
<body>
<h1>fmi benchmarks</h1>
${meta.map((m) => `<p>${esc(m)}</p>`).join('\n')}
<p>${count} results, ${figures.length} figures. Times are medians; for collectives, of the slowest rank per call. Data: the JSON lines of <code>bench/run.mjs</code> (see bench/README.md).</p>
${items.join('\n') || '<p>No result this report knows how to chart.</p>'}
</body>
</html>
`;
}
