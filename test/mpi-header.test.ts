import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ccCommand } from '../src/cli/cc.js';

/**
 * mpi.h covers MPI 3.1's C bindings: every function of Open MPI 4.1's mpi.h
 * (installed with openmpi-bin, as scripts/test.sh does) but the ones MPI 3.0
 * removed is declared, and a program that calls every declared function, and
 * its PMPI_ form, links with `fmi cc`.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const header = readFileSync(join(root, 'native/include/mpi.h'), 'utf8');

/** MPI 3.0 removed these MPI-1 functions (MPI 3.1 §16.2); Open MPI 4.1 still declares them. */
const REMOVED_IN_MPI_3 = [
  'MPI_Address', 'MPI_Errhandler_create', 'MPI_Errhandler_get', 'MPI_Errhandler_set', 'MPI_Type_extent',
  'MPI_Type_hindexed', 'MPI_Type_hvector', 'MPI_Type_lb', 'MPI_Type_struct', 'MPI_Type_ub',
];
/** Open MPI makes these macros, not functions; MPI 3.1 §4.1.5 has them as functions (so does fmi). */
const MACROS_IN_OPEN_MPI = ['MPI_Aint_add', 'MPI_Aint_diff'];

/** The functions a C header declares: statements `type MPI_X(...)`, not typedefs or function pointers. */
function declaredFunctions(text: string): Set<string> {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*#.*$/gm, '');
  const names = new Set<string>();
  for (const stmt of code.split(';')) {
    const s = stmt.replace(/\s+/g, ' ').trim();
    const m = /\b(MPI_\w+)\s*\(/.exec(s);
    if (m && !/^typedef\b/.test(s) && !/\(\s*\*/.test(s.slice(0, m.index + 1))) names.add(m[1]!);
  }
  return names;
}

function openMpiHeader(): string {
  const r = spawnSync('mpicc', ['--showme:incdirs'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`this test reads Open MPI's mpi.h: install openmpi-bin (mpicc --showme:incdirs failed: ${r.error?.message ?? r.stderr})`);
  const file = r.stdout.trim().split(/\s+/).map((d) => join(d, 'mpi.h')).find((f) => existsSync(f));
  if (!file) throw new Error(`no mpi.h in Open MPI's include directories: ${r.stdout}`);
  return readFileSync(file, 'utf8');
}

let dir: string | undefined;
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mpi.h covers MPI 3.1', () => {
  it("declares every function of Open MPI 4.1's mpi.h but those MPI 3.0 removed", () => {
    const ours = declaredFunctions(header);
    const openMpi = declaredFunctions(openMpiHeader());
    expect(openMpi.size).toBeGreaterThan(350);
    const missing = [...openMpi].filter((n) => !ours.has(n) && !REMOVED_IN_MPI_3.includes(n));
    expect(missing, 'MPI 3.1 functions mpi.h does not declare').toEqual([]);
    expect(REMOVED_IN_MPI_3.filter((n) => ours.has(n)), 'functions MPI 3.0 removed').toEqual([]);
    expect([...ours].filter((n) => !openMpi.has(n))).toEqual(MACROS_IN_OPEN_MPI);
  });

  it('a program calling every declared function and its PMPI_ form links with fmi cc', async () => {
    const protos = [...header.matchAll(/^(?!typedef|#)\w[\w ]*?\**\s*\b(MPI_\w+)\(([^;]*)\);/gm)];
    expect(protos.length).toBe(declaredFunctions(header).size);
    // 0 is a valid argument of every parameter type mpi.h uses (ints, handles, pointers, MPI_Aint, MPI_Offset).
    const calls = protos.flatMap(([, name, params]) => {
      const named = params!.trim() === 'void' ? [] : params!.split(',').filter((p) => p.trim() !== '...');
      const args = named.map(() => '0').join(', ');
      return [`    ${name}(${args});`, `    P${name}(${args});`];
    });
    dir = mkdtempSync(join(tmpdir(), 'fmi-mpih-'));
    const src = join(dir, 'every.c');
    // Never run: argc is never that large. The calls are there to be linked.
    writeFileSync(src, `#include <mpi.h>\nint main(int argc, char **argv) {\n  if (argc > 100000) {\n${calls.join('\n')}\n  }\n  return 0;\n}\n`);
    expect(await ccCommand([src, '-O0', '-o', join(dir, 'every.js')])).toBe(0);
    expect(existsSync(join(dir, 'every.wasm'))).toBe(true);
  }, 600_000);
});
