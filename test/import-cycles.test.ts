import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * No two modules of src/ import each other at run time, directly or round a
 * circle (type-only imports do not count: they are gone from the built
 * code). A circle makes load order matter and blurs which layer is below
 * which; src/mpi had one (runtime.ts <-> impls.ts <-> the families).
 */

const src = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** The modules of src/ that `file` imports at run time. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)) {
    if (m[2]) continue;
    const path = join(dirname(file), m[3]!).replace(/\.js$/, '.ts');
    if (existsSync(path)) out.push(path);
    else if (existsSync(join(path.replace(/\.ts$/, ''), 'index.ts'))) out.push(join(path.replace(/\.ts$/, ''), 'index.ts'));
  }
  return out;
}

/** The circles of the import graph (Tarjan's strongly connected components of more than one module). */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const part: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      part.push(relative(src, w));
      if (w === v) break;
    }
    if (part.length > 1) found.push(part.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('structure', () => {
  it('no import circles in src/', () => {
    const graph = new Map(sources(src).map((f) => [f, runtimeImports(f)]));
    expect(graph.size).toBeGreaterThan(100);
    expect(circles(graph)).toEqual([]);
  });

  it('finds a circle when there is one (the check can fail)', () => {
    const g = new Map([
      [join(src, 'a.ts'), [join(src, 'b.ts')]],
      [join(src, 'b.ts'), [join(src, 'a.ts')]],
      [join(src, 'c.ts'), [join(src, 'a.ts')]],
    ]);
    expect(circles(g)).toEqual([['a.ts', 'b.ts']]);
  });
});
