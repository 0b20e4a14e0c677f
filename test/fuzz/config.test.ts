import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FmiError } from '../../src/errors.js';
import { DEFAULT_CONFIG, loadConfig } from '../../src/config/index.js';
import { describeReport, fuzz, textCodec, type FuzzTarget } from './engine.js';
import { mutateBytes, mutateJson, type Json } from './mutate.js';

// The config loader, fuzzed with mutations of real config files: whatever a
// file holds, loading it gives a config or an FMI_CONFIG error that names the
// field, never another exception.

const dir = mkdtempSync(join(tmpdir(), 'fmi-fuzz-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SEEDS: Json[] = [
  JSON.parse(readFileSync(new URL('../fixtures/fmi.json', import.meta.url), 'utf8')) as Json,
  JSON.parse(JSON.stringify(DEFAULT_CONFIG)) as Json,
  { backends: { Redis: { enabled: true, url: 'redis://127.0.0.1:6379' } } },
  { backends: { S3: { enabled: true, bucket_name: 'b', endpoint: 'http://127.0.0.1:7480', s3_region: 'us-east-1' }, Direct: { enabled: true } } },
];

let file = 0;

const target: FuzzTarget<string> = {
  name: 'config',
  codec: textCodec,
  generate: (rng) => {
    const seed = rng.pick(SEEDS);
    if (rng.chance(0.85)) return JSON.stringify(mutateJson(rng, seed));
    return mutateBytes(rng, Buffer.from(JSON.stringify(seed, null, rng.chance(0.5) ? 2 : 0)), Buffer.from(JSON.stringify(rng.pick(SEEDS)))).toString('utf8');
  },
  run: (text) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    // Parsed objects go in directly (fast); text that is not JSON goes through a file, the loader's other way in.
    const load = () => {
      if (parsed !== undefined && typeof parsed === 'object' && parsed !== null) return loadConfig(parsed);
      const path = join(dir, `c${file++ % 8}.json`);
      writeFileSync(path, text);
      return loadConfig(path);
    };
    try {
      const c = load();
      if (typeof c !== 'object' || c === null || typeof c.model !== 'object') throw new Error('loaded something that is not a config');
    } catch (err) {
      if (err instanceof FmiError && err.code === 'FMI_CONFIG') return;
      throw err;
    }
  },
};

describe('fuzz - config loader', () => {
  it('any file content is a config or an FMI_CONFIG error, never a crash', async () => {
    const report = await fuzz(target);
    console.log(describeReport(report));
    expect(report.runs).toBeGreaterThan(0);
    expect(report.crashes).toEqual([]);
  });
});
