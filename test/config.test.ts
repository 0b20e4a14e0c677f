import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, enabledChannels, loadConfig, validateConfig } from '../src/config/index.js';
import { FmiError } from '../src/errors.js';

const FIXTURE = new URL('./fixtures/fmi.json', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'fmi-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A minimal valid config to vary: only Direct, enabled. */
const direct = () => ({ backends: { Direct: { enabled: true } } }) as Record<string, any>;

/** Expects validation to fail with FMI_CONFIG and a message that names `field`. */
function rejects(input: unknown, field: string, why?: RegExp): void {
  let caught: unknown;
  try {
    validateConfig(input);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FmiError);
  expect((caught as FmiError).code).toBe('FMI_CONFIG');
  expect((caught as FmiError).message).toContain(field);
  if (why) expect((caught as FmiError).message).toMatch(why);
}

describe('config - the reference format', () => {
  it("reads the reference's config/fmi.json unchanged", () => {
    const c = loadConfig(FIXTURE);
    expect(c.backends.S3).toEqual({ enabled: false, bucket_name: 'romanboe-uploadtest', s3_region: 'eu-central-1', timeout: 100, max_timeout: 1000 });
    expect(c.backends.Redis).toEqual({ enabled: false, host: '127.0.0.1', port: 6379, timeout: 1, max_timeout: 1000 });
    expect(c.backends.Direct).toEqual({ enabled: true, host: '127.0.0.1', port: 10000, max_timeout: 1000 });
    expect(c.model.FaaS.gib_second_price).toBe(0.0000166667);
    // gap and overhead_multiple are not in the reference's file: their defaults, 0 (no per-request cost beyond overhead; overhead itself when every rank is busy).
    expect(c.model.S3).toEqual({ bandwidth: 50, overhead: 40.4, overhead_multiple: 0, gap: 0, transfer_price: 0, download_price: 0.00000043, upload_price: 0.0000054 });
    expect(c.model.FaaS.fresh_memory).toBe(0);
    expect(c.model.Redis.bandwidth_multiple).toBe(400);
    expect(c.model.Direct.vm_price).toBe(0.0134);
    expect(enabledChannels(c)).toEqual(['direct']);
  });

  it('reads a path given as a string as well as a URL', () => {
    expect(loadConfig(FIXTURE.pathname)).toEqual(loadConfig(FIXTURE));
  });

  it("DEFAULT_CONFIG carries the reference's model numbers", () => {
    expect(DEFAULT_CONFIG.model).toEqual(loadConfig(FIXTURE).model);
    expect(enabledChannels(DEFAULT_CONFIG)).toEqual(['direct']);
    expect(Object.isFrozen(DEFAULT_CONFIG.model.S3)).toBe(true);
  });

  it('fills model fields left out with the defaults, and keeps those given', () => {
    const c = validateConfig({ ...direct(), model: { Redis: { overhead: 1 } } });
    expect(c.model.Redis.overhead).toBe(1);
    expect(c.model.Redis.bandwidth_single).toBe(DEFAULT_CONFIG.model.Redis.bandwidth_single);
    expect(c.model.S3).toEqual(DEFAULT_CONFIG.model.S3);
  });

  it('ignores sections outside backends and model (forks add their own)', () => {
    const c = validateConfig({ ...direct(), fault_tolerance: { enabled: false } });
    expect(c).not.toHaveProperty('fault_tolerance');
  });

  it('accepts include_infrastructure_costs as text, as the reference reads it', () => {
    const c = validateConfig({ ...direct(), model: { Direct: { include_infrastructure_costs: 'false' } } });
    expect(c.model.Direct.include_infrastructure_costs).toBe(false);
  });
});

describe('config - our additions', () => {
  it('takes a redis:// or rediss:// URL instead of host and port', () => {
    const c = validateConfig({ backends: { Redis: { enabled: true, url: 'rediss://:pw@cache.example:6380/0' } } });
    expect(c.backends.Redis?.url).toBe('rediss://:pw@cache.example:6380/0');
    expect(enabledChannels(c)).toEqual(['redis']);
    rejects({ backends: { Redis: { enabled: true, url: 'http://cache.example' } } }, 'backends.Redis.url', /redis:\/\/ or rediss:\/\//);
    rejects({ backends: { Redis: { enabled: true, url: 'not a url' } } }, 'backends.Redis.url');
  });

  it('defaults the Redis port to 6379 when only a host is given', () => {
    expect(validateConfig({ backends: { Redis: { enabled: true, host: 'h' } } }).backends.Redis?.port).toBe(6379);
  });

  it('takes an S3-compatible endpoint, and no region is needed with it', () => {
    const c = validateConfig({ backends: { S3: { enabled: true, bucket_name: 'b', endpoint: 'http://127.0.0.1:7480' } } });
    expect(c.backends.S3).toEqual({ enabled: true, bucket_name: 'b', endpoint: 'http://127.0.0.1:7480' });
    expect(enabledChannels(c)).toEqual(['s3']);
    rejects({ backends: { S3: { enabled: true, bucket_name: 'b', endpoint: 'ftp://x' } } }, 'backends.S3.endpoint');
  });

  it('refuses credentials in the file: they come from the AWS chain', () => {
    rejects({ backends: { S3: { enabled: true, bucket_name: 'b', aws_access_key_id: 'AK' } } }, 'backends.S3.aws_access_key_id', /AWS chain/);
    rejects({ backends: { S3: { enabled: true, bucket_name: 'b', secret_access_key: 'x' } } }, 'secret_access_key', /AWS_ACCESS_KEY_ID/);
  });

  it('lists the enabled channels in the order direct, redis, s3', () => {
    const c = validateConfig({
      backends: { S3: { enabled: true, bucket_name: 'b' }, Redis: { enabled: true, host: 'h' }, Direct: { enabled: true } },
    });
    expect(enabledChannels(c)).toEqual(['direct', 'redis', 's3']);
  });
});

describe('config - validation names the bad field', () => {
  it('wrong types', () => {
    rejects({ ...direct(), model: { S3: { bandwidth: '50' } } }, 'model.S3.bandwidth', /finite number, got "50"/);
    rejects({ backends: { Direct: { enabled: 'yes' } } }, 'backends.Direct.enabled', /true or false/);
    rejects({ backends: [] }, 'backends', /object/);
    rejects({ ...direct(), model: { Redis: null } }, 'model.Redis', /object, got null/);
    rejects({ backends: { Direct: { enabled: true, port: 70000 } } }, 'backends.Direct.port', /port number/);
    rejects({ backends: { Redis: { enabled: true, host: '' } } }, 'backends.Redis.host', /empty/);
    rejects('not an object' as unknown, '(config)');
  });

  it('negative prices and impossible bandwidths', () => {
    rejects({ ...direct(), model: { S3: { upload_price: -0.1 } } }, 'model.S3.upload_price', /price and cannot be negative/);
    rejects({ ...direct(), model: { FaaS: { gib_second_price: -1 } } }, 'model.FaaS.gib_second_price', /negative/);
    rejects({ ...direct(), model: { Redis: { bandwidth_multiple: 0 } } }, 'model.Redis.bandwidth_multiple', /greater than 0/);
    rejects({ ...direct(), model: { Direct: { requests_per_hour: 0 } } }, 'model.Direct.requests_per_hour', /greater than 0/);
    rejects({ ...direct(), model: { Direct: { overhead: -1 } } }, 'model.Direct.overhead', /negative/);
    rejects({ ...direct(), model: { S3: { overhead: Infinity } } }, 'model.S3.overhead', /finite/);
  });

  it('no backend enabled', () => {
    rejects({ backends: { Direct: { enabled: false } } }, 'backends', /no backend is enabled/);
    rejects({}, 'backends', /no backend is enabled/);
  });

  it('an enabled backend without what it needs', () => {
    rejects({ backends: { S3: { enabled: true } } }, 'backends.S3.bucket_name', /string, got nothing/);
    rejects({ backends: { Redis: { enabled: true } } }, 'backends.Redis.host', /"url".*or "host"/);
  });

  it('typos: unknown backends, sections and fields', () => {
    rejects({ backends: { redis: { enabled: true } } }, 'backends.redis', /known: S3, Redis, Direct/);
    rejects({ ...direct(), model: { Lambda: {} } }, 'model.Lambda', /known: FaaS, S3, Redis, Direct/);
    rejects({ ...direct(), model: { S3: { bandwith: 10 } } }, 'model.S3.bandwith', /not a field of model.S3/);
    rejects({ backends: { Direct: { enabled: true, hostname: 'x' } } }, 'backends.Direct.hostname');
  });

  it('files that cannot be read or parsed', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "backends": ');
    expect(() => loadConfig(bad)).toThrow(/bad\.json is not valid JSON/);
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/cannot read config file .*missing\.json/);
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ ...direct(), model: { S3: { bandwidth: -5 } } }));
    expect(() => loadConfig(typo)).toThrow(/typo\.json: model\.S3\.bandwidth: must be greater than 0, got -5/);
  });
});
