import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FmiError } from '../errors.js';
import { DEFAULT_CONFIG } from './defaults.js';
import type { Backends, ChannelName, DirectBackend, FmiConfig, LinkModel, Model, RedisBackend, S3Backend } from './types.js';

type Obj = Record<string, unknown>;

const BACKEND_FIELDS = {
  S3: ['enabled', 'bucket_name', 's3_region', 'timeout', 'max_timeout', 'endpoint'],
  Redis: ['enabled', 'host', 'port', 'url', 'timeout', 'max_timeout'],
  Direct: ['enabled', 'host', 'port', 'max_timeout'],
} as const;

/** How each model field is checked: `positive` > 0, `price` and `nonneg` >= 0. */
type FieldKind = 'positive' | 'nonneg' | 'price' | 'bool';
/** A channel's timing (LinkModel): direct's and shm's. */
const LINK_FIELDS: Record<keyof LinkModel, FieldKind> = {
  bandwidth: 'positive',
  overhead: 'nonneg',
  gap: 'nonneg',
  exchange_overhead: 'nonneg',
  exchange_bandwidth: 'nonneg',
  collective_overhead: 'nonneg',
  barrier_overhead: 'nonneg',
  fanout_overhead: 'nonneg',
};

const MODEL_FIELDS: Record<keyof Model, Record<string, FieldKind>> = {
  FaaS: { gib_second_price: 'price', fresh_memory: 'nonneg', fresh_overhead: 'nonneg' },
  S3: { bandwidth: 'positive', overhead: 'nonneg', overhead_multiple: 'nonneg', gap: 'nonneg', transfer_price: 'price', download_price: 'price', upload_price: 'price' },
  Redis: {
    bandwidth_single: 'positive',
    bandwidth_multiple: 'positive',
    overhead: 'nonneg',
    overhead_multiple: 'nonneg',
    fanout_overhead: 'nonneg',
    fanin_overhead: 'nonneg',
    fanin_bandwidth: 'nonneg',
    gap: 'nonneg',
    transfer_price: 'price',
    instance_price: 'price',
    requests_per_hour: 'positive',
    include_infrastructure_costs: 'bool',
  },
  Direct: {
    ...LINK_FIELDS,
    transfer_price: 'price',
    vm_price: 'price',
    requests_per_hour: 'positive',
    include_infrastructure_costs: 'bool',
  },
  Shm: LINK_FIELDS,
};

const CREDENTIAL_KEY = /access_?key|secret|session_?token|credential/i;

/**
 * Reads FMI's configuration: a path (or file URL) to the reference's JSON
 * format, or an already parsed object. Model fields left out take the
 * reference's defaults (`DEFAULT_CONFIG`); anything malformed throws
 * `FmiError('FMI_CONFIG')` naming the field. Keys outside `backends` and
 * `model` are ignored (forks of the reference add sections of their own).
 */
export function loadConfig(source: string | URL | object): FmiConfig {
  if (typeof source === 'string' || source instanceof URL) {
    const path = source instanceof URL ? fileURLToPath(source) : source;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new FmiError('FMI_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new FmiError('FMI_CONFIG', `config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    return validateConfig(parsed, path);
  }
  return validateConfig(source);
}

/** Validates a parsed config and fills model defaults; `origin` names the file in messages. */
export function validateConfig(input: unknown, origin?: string): FmiConfig {
  const v = new Validator(origin);
  const root = v.object(input, '(config)');
  const backends = readBackends(v, root.backends);
  const model = readModel(v, root.model);
  const config: FmiConfig = { backends, model };
  if (enabledChannels(config).length === 0) {
    v.fail('backends', 'no backend is enabled: set backends.Direct, backends.Redis or backends.S3 to {"enabled": true, ...}');
  }
  return config;
}

/** The channels a config enables, in the order direct, redis, s3. */
export function enabledChannels(config: FmiConfig): ChannelName[] {
  const out: ChannelName[] = [];
  if (config.backends.Direct?.enabled) out.push('direct');
  if (config.backends.Redis?.enabled) out.push('redis');
  if (config.backends.S3?.enabled) out.push('s3');
  return out;
}

function readBackends(v: Validator, raw: unknown): Backends {
  if (raw === undefined) return {};
  const b = v.object(raw, 'backends');
  v.known(b, 'backends', Object.keys(BACKEND_FIELDS), 'a backend');
  const out: Backends = {};
  if (b.S3 !== undefined) out.S3 = readS3(v, b.S3);
  if (b.Redis !== undefined) out.Redis = readRedis(v, b.Redis);
  if (b.Direct !== undefined) out.Direct = readDirect(v, b.Direct);
  return out;
}

function section(v: Validator, raw: unknown, name: keyof typeof BACKEND_FIELDS): Obj {
  const path = `backends.${name}`;
  const s = v.object(raw, path);
  for (const k of Object.keys(s)) {
    if (CREDENTIAL_KEY.test(k)) {
      v.fail(`${path}.${k}`, 'credentials do not belong in the config file: they come from the AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles)');
    }
  }
  v.known(s, path, BACKEND_FIELDS[name], 'a field');
  return s;
}

function readS3(v: Validator, raw: unknown): S3Backend {
  const p = 'backends.S3';
  const s = section(v, raw, 'S3');
  const enabled = v.bool(s.enabled, `${p}.enabled`);
  const out: S3Backend = { enabled, bucket_name: '' };
  if (s.bucket_name !== undefined || enabled) out.bucket_name = v.string(s.bucket_name, `${p}.bucket_name`, enabled);
  if (s.s3_region !== undefined) out.s3_region = v.string(s.s3_region, `${p}.s3_region`, true);
  if (s.timeout !== undefined) out.timeout = v.number(s.timeout, `${p}.timeout`, 'nonneg');
  if (s.max_timeout !== undefined) out.max_timeout = v.number(s.max_timeout, `${p}.max_timeout`, 'positive');
  if (s.endpoint !== undefined) out.endpoint = v.url(s.endpoint, `${p}.endpoint`, ['http:', 'https:']);
  return out;
}

function readRedis(v: Validator, raw: unknown): RedisBackend {
  const p = 'backends.Redis';
  const s = section(v, raw, 'Redis');
  const enabled = v.bool(s.enabled, `${p}.enabled`);
  const out: RedisBackend = { enabled };
  if (s.url !== undefined) out.url = v.url(s.url, `${p}.url`, ['redis:', 'rediss:']);
  if (s.host !== undefined) out.host = v.string(s.host, `${p}.host`, true);
  if (s.port !== undefined) out.port = v.port(s.port, `${p}.port`);
  if (enabled && out.url === undefined && out.host === undefined) {
    v.fail(`${p}.host`, 'an enabled Redis backend needs "url" (redis://host:port) or "host" (and "port")');
  }
  if (out.host !== undefined && out.port === undefined) out.port = 6379;
  if (s.timeout !== undefined) out.timeout = v.number(s.timeout, `${p}.timeout`, 'nonneg');
  if (s.max_timeout !== undefined) out.max_timeout = v.number(s.max_timeout, `${p}.max_timeout`, 'positive');
  return out;
}

function readDirect(v: Validator, raw: unknown): DirectBackend {
  const p = 'backends.Direct';
  const s = section(v, raw, 'Direct');
  const out: DirectBackend = { enabled: v.bool(s.enabled, `${p}.enabled`) };
  if (s.host !== undefined) out.host = v.string(s.host, `${p}.host`, true);
  if (s.port !== undefined) out.port = v.port(s.port, `${p}.port`);
  if (s.max_timeout !== undefined) out.max_timeout = v.number(s.max_timeout, `${p}.max_timeout`, 'positive');
  return out;
}

function readModel(v: Validator, raw: unknown): Model {
  const m = raw === undefined ? {} : v.object(raw, 'model');
  v.known(m, 'model', Object.keys(MODEL_FIELDS), 'a model section');
  const out = {} as Record<keyof Model, Record<string, number | boolean>>;
  for (const name of Object.keys(MODEL_FIELDS) as (keyof Model)[]) {
    const path = `model.${name}`;
    const s = m[name] === undefined ? {} : v.object(m[name], path);
    const fields = MODEL_FIELDS[name];
    v.known(s, path, Object.keys(fields), 'a field');
    const defaults = DEFAULT_CONFIG.model[name] as unknown as Record<string, number | boolean>;
    const sec: Record<string, number | boolean> = {};
    for (const [field, kind] of Object.entries(fields)) {
      const value = s[field];
      if (value === undefined) sec[field] = defaults[field]!;
      else if (kind === 'bool') sec[field] = v.boolish(value, `${path}.${field}`);
      else sec[field] = v.number(value, `${path}.${field}`, kind);
    }
    out[name] = sec;
  }
  return out as unknown as Model;
}

class Validator {
  constructor(private readonly origin?: string) {}

  fail(path: string, message: string): never {
    throw new FmiError('FMI_CONFIG', `${this.origin ? `${this.origin}: ` : ''}${path}: ${message}`);
  }

  object(x: unknown, path: string): Obj {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) this.fail(path, `must be an object, got ${show(x)}`);
    return x as Obj;
  }

  known(o: Obj, path: string, names: readonly string[], what: string): void {
    for (const k of Object.keys(o)) {
      if (!names.includes(k)) this.fail(`${path}.${k}`, `is not ${what} of ${path} (known: ${names.join(', ')})`);
    }
  }

  bool(x: unknown, path: string): boolean {
    if (typeof x !== 'boolean') this.fail(path, `must be true or false, got ${show(x)}`);
    return x;
  }

  /** The reference reads booleans as text ("true"), so the strings are accepted too. */
  boolish(x: unknown, path: string): boolean {
    if (x === 'true') return true;
    if (x === 'false') return false;
    return this.bool(x, path);
  }

  string(x: unknown, path: string, nonEmpty: boolean): string {
    if (typeof x !== 'string') this.fail(path, `must be a string, got ${show(x)}`);
    if (nonEmpty && x.trim() === '') this.fail(path, 'must not be empty');
    return x;
  }

  number(x: unknown, path: string, kind: Exclude<FieldKind, 'bool'>): number {
    if (typeof x !== 'number' || !Number.isFinite(x)) this.fail(path, `must be a finite number, got ${show(x)}`);
    if (kind === 'positive' && !(x > 0)) this.fail(path, `must be greater than 0, got ${x}`);
    if (kind === 'price' && x < 0) this.fail(path, `is a price and cannot be negative, got ${x}`);
    if (kind === 'nonneg' && x < 0) this.fail(path, `cannot be negative, got ${x}`);
    return x;
  }

  port(x: unknown, path: string): number {
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 65535) this.fail(path, `must be a port number (0-65535), got ${show(x)}`);
    return x;
  }

  url(x: unknown, path: string, protocols: string[]): string {
    const s = this.string(x, path, true);
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      this.fail(path, `must be a URL (${protocols.map((p) => `${p}//`).join(' or ')}...), got ${show(s)}`);
    }
    if (!protocols.includes(u.protocol)) this.fail(path, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got ${show(s)}`);
    return s;
  }
}

function show(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'string') return JSON.stringify(x.length > 60 ? `${x.slice(0, 57)}...` : x);
  if (Array.isArray(x)) return 'an array';
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  return String(x);
}
