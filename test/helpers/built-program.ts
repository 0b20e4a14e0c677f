import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * test/mpi/NAME.c built by `fmi cc -O1`: its .js loader (the .wasm beside
 * it). Kept between runs under the system's temp dir, keyed by what the
 * build reads: emcc takes minutes on a busy machine.
 */
export async function builtProgram(name: string): Promise<string> {
  const inputs = [`test/mpi/${name}.c`, 'test/mpi/check.h', 'native/include/mpi.h', 'bindings/library_fmi.js', 'src/cli/cc.ts']
    .filter((p) => existsSync(join(root, p)))
    .map((p) => readFileSync(join(root, p)));
  const key = createHash('sha256').update(Buffer.concat(inputs)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `fmi-built-${name}-${key}`);
  const js = join(dir, `${name}.js`);
  if (existsSync(js) && existsSync(join(dir, `${name}.wasm`))) return js;
  mkdirSync(dir, { recursive: true });
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [join(root, 'dist/cli/main.js'), 'cc', join(root, `test/mpi/${name}.c`), '-O1', '-lm', '-o', js], { cwd: root });
    let stderr = '';
    p.stderr.on('data', (b) => (stderr += b));
    p.on('exit', (code) => resolve({ code, stderr }));
  });
  if (r.code !== 0) throw new Error(`fmi cc ${name}.c failed: ${r.stderr}`);
  return js;
}
