import { renameSync, writeFileSync } from 'node:fs';
import { FmiError } from '../errors.js';
import type { ModelPatch } from '../model/calibration.js';
import { validateConfig } from './load.js';

/**
 * The config file's text with `patch` written into its model section: only
 * the fields in the patch change; every other key (backends, prices, a
 * fork's own sections) stays where it was, in the file's indentation. When
 * `text` is undefined, a new config: the direct backend enabled and the
 * patched fields (the rest of the model takes the defaults when loaded).
 * `calibration` becomes the top-level "calibration" section, which
 * loadConfig ignores like any key outside backends and model: how and when
 * the numbers were measured. The result is validated before it is returned.
 */
export function withModel(text: string | undefined, patch: ModelPatch, calibration?: unknown, origin = '(new config)'): string {
  let root: Record<string, unknown>;
  if (text === undefined) root = { backends: { Direct: { enabled: true } } };
  else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new FmiError('FMI_CONFIG', `config file ${origin} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new FmiError('FMI_CONFIG', `config file ${origin}: must be a JSON object`);
    }
    root = parsed as Record<string, unknown>;
  }
  const model = objectAt(root, 'model', origin);
  for (const [name, fields] of Object.entries(patch) as [string, Record<string, number>][]) {
    const section = objectAt(model, name, origin, `model.${name}`);
    Object.assign(section, fields);
  }
  if (calibration !== undefined) root.calibration = calibration;
  validateConfig(root, origin);
  const indent = text === undefined ? 2 : indentOf(text);
  return `${JSON.stringify(root, null, indent)}\n`;
}

/** Writes `text` to `path` through a temporary file, so a reader never sees half a config. */
export function writeConfigFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (err) {
    throw new FmiError('FMI_CONFIG', `cannot write config file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

function objectAt(parent: Record<string, unknown>, key: string, origin: string, path = key): Record<string, unknown> {
  const v = parent[key];
  if (v === undefined) return (parent[key] = {}) as Record<string, unknown>;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new FmiError('FMI_CONFIG', `${origin}: ${path}: must be an object`);
  return v as Record<string, unknown>;
}

/** The indentation of the file's first indented line (tabs or spaces), 2 spaces when none is. */
function indentOf(text: string): string | number {
  const m = /\n([ \t]+)\S/.exec(text);
  return m ? m[1]! : 2;
}
