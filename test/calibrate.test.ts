import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrate, FRESH_SIZES } from '../src/cli/calibrate.js';
import { loadConfig } from '../src/config/index.js';
import { withModel } from '../src/config/update.js';
import { FmiError } from '../src/errors.js';
import { fitChannel, fitFresh, fitGap, modelPatch, type ChannelMeasurements } from '../src/model/calibration.js';
import { fitLink } from '../src/model/fit.js';
import { choose, estimate, Policy } from '../src/model/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { s3Server } from './helpers/rgw.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli/main.js`;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fmi-calibrate-test-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('calibrate - fitting latency + bytes / bandwidth', () => {
  it('recovers alpha and beta from points on the line', () => {
    const alpha = 25e-6;
    const beta = 2e9;
    const f = fitLink([8, 1024, 65536, 1 << 20].map((b) => ({ bytes: b, seconds: alpha + b / beta })));
    expect(f.alpha).toBeCloseTo(alpha, 10);
    expect(f.beta / beta).toBeCloseTo(1, 6);
    expect(f.maxRelError).toBeLessThan(1e-9);
  });

  it('weights points by their relative error: a 1% error at 1 MiB does not swamp the latency', () => {
    const pts = [8, 1024, 65536, 1 << 20].map((b) => ({ bytes: b, seconds: 20e-6 + b / 1e9 }));
    pts[3]!.seconds *= 1.01;
    expect(fitLink(pts).alpha).toBeGreaterThan(18e-6);
    expect(fitLink(pts).alpha).toBeLessThan(22e-6);
  });

  it('a negative intercept becomes 0 and the line goes through the origin', () => {
    const f = fitLink([
      { bytes: 1000, seconds: 1e-6 },
      { bytes: 1_000_000, seconds: 1.2e-3 },
    ]);
    expect(f.alpha).toBe(0);
    expect(f.beta).toBeGreaterThan(0);
  });

  it('no usable point is an MPI_ERR_ARG', () => {
    expect(() => fitLink([{ bytes: 8, seconds: 0 }])).toThrow(FmiError);
    expect(() => fitLink([])).toThrow(/no measured point/);
  });

  it('direct and Redis are fitted to the ping-pong (Redis plus its aggregate bandwidth), S3 to a write + a read; the gap to the bursts; the exchange and every rank at once to their own lines', () => {
    const line = (a: number, b: number) => [8, 65536, 1 << 20].map((bytes) => ({ bytes, seconds: a + bytes / b, iters: 10 }));
    // A burst of k messages: a round trip, plus 15 µs for each further message.
    const burst = [1, 4, 16].map((k) => ({ bytes: k, seconds: 20e-6 + (k - 1) * 15e-6, iters: 10 }));
    const direct: ChannelMeasurements = { channel: 'direct', ranks: 4, load: [0, 0, 0], pingpong: line(10e-6, 4e9), exchange: line(40e-6, 1e9), legs: [], legsAll: [], burst };
    expect(fitChannel(direct).source).toBe('pingpong');
    expect(fitChannel(direct).fit.alpha).toBeCloseTo(10e-6, 9);
    expect(fitChannel(direct).gap).toBeCloseTo(15e-6, 12);
    // Without bursts (an older results file) there is no gap.
    expect(fitChannel({ ...direct, burst: undefined }).gap).toBe(0);
    const legs = (a: number, b: number) => [8, 65536, 1 << 20].map((bytes) => ({ bytes, put: (a + bytes / b) / 2, get: (a + bytes / b) / 2, iters: 10 }));
    // Every one of 4 ranks moves 1 MiB each way at once, in 4x the time one rank takes beyond the latency.
    const all = legs(0.5e-3, 1e8).map((l) => ({ ...l, put: l.put * 4, get: l.get * 4 }));
    const redis: ChannelMeasurements = { channel: 'redis', ranks: 4, load: [0, 0, 0], pingpong: line(0.5e-3, 1e8), exchange: [], legs: legs(0.1e-3, 1e9), legsAll: all };
    const f = fitChannel(redis);
    expect(f.source).toBe('pingpong');
    const s3 = fitChannel({ ...redis, channel: 's3', pingpong: line(30e-3, 1e7) });
    expect(s3.source).toBe('legs');
    expect(s3.fit.alpha).toBeCloseTo(0.1e-3, 9);
    expect(f.fit.alpha).toBeCloseTo(0.5e-3, 9);
    expect(f.fit.beta / 1e8).toBeCloseTo(1, 6);
    expect(f.betaTotal! / 1e8).toBeGreaterThan(0.9);
    // 3 ms per MiB of fresh memory: 1 MiB new and written in 3.4 ms, an old one written in 0.4 ms.
    const fresh = [1 << 18, 1 << 20].map((bytes) => ({ bytes, put: (3.4e-3 * bytes) / (1 << 20), get: (0.4e-3 * bytes) / (1 << 20), iters: 10 }));
    expect(fitFresh(fresh).perByte * (1 << 20)).toBeCloseTo(3e-3, 12);
    expect(fitFresh(fresh).perCall).toBeCloseTo(0, 12);
    expect(fitFresh(fresh.map((x) => ({ ...x, put: x.get / 2 })))).toEqual({ perCall: 0, perByte: 0 }); // cheaper than reuse: no cost, never negative
    const patch = modelPatch([fitChannel(direct), f], fitFresh(fresh));
    // The exchange (every rank at once) is a line of its own: the model's round of pairwise exchange.
    expect(patch.Direct).toEqual({ overhead: 0.01, bandwidth: 4000, gap: 0.015, exchange_overhead: 0.04, exchange_bandwidth: 1000 });
    expect(modelPatch([fitChannel({ ...direct, exchange: [] })]).Direct).toEqual({ overhead: 0.01, bandwidth: 4000, gap: 0.015 });
    // Every rank writing and reading at once took 4x: the latency then is 4 x 0.5 ms.
    expect(patch.Redis!.overhead_multiple).toBe(2);
    expect(modelPatch([s3]).S3!.overhead_multiple).toBe(2);
    expect(modelPatch([fitChannel({ ...redis, legsAll: [] })]).Redis!.overhead_multiple).toBeUndefined();
    expect(patch.Redis!.overhead).toBe(0.5);
    expect(patch.Redis!.bandwidth_single).toBe(100);
    expect(patch.Redis!.gap).toBe(0);
    expect(patch.FaaS!.fresh_memory).toBe(3);
    expect(patch.FaaS!.fresh_overhead).toBeCloseTo(0, 9);
    expect(modelPatch([f]).FaaS).toBeUndefined();
  });

  it('the gap is the slope of a burst\'s time over its length, least squares, never negative', () => {
    expect(fitGap([{ bytes: 1, seconds: 1e-3, iters: 1 }, { bytes: 3, seconds: 3e-3, iters: 1 }, { bytes: 5, seconds: 4e-3, iters: 1 }])).toBeCloseTo(0.75e-3, 12);
    expect(fitGap([{ bytes: 1, seconds: 2e-3, iters: 1 }, { bytes: 8, seconds: 1e-3, iters: 1 }])).toBe(0);
    expect(fitGap([{ bytes: 4, seconds: 2e-3, iters: 1 }])).toBe(0);
  });
});

describe('calibrate - writing the model section', () => {
  const original = '{\n\t"backends": {"Redis": {"enabled": true, "url": "redis://127.0.0.1:1"}, "Direct": {"enabled": true}},\n\t"model": {"Redis": {"instance_price": 0.5, "overhead": 9}},\n\t"mine": [1, 2]\n}\n';

  it('changes only the measured fields, keeps the rest and the file\'s indentation', () => {
    const text = withModel(original, { Redis: { overhead: 0.7, bandwidth_single: 300, bandwidth_multiple: 900 } }, { date: 'now' });
    expect(text).toMatch(/^\{\n\t"backends"/);
    const j = JSON.parse(text);
    expect(j.model.Redis).toEqual({ instance_price: 0.5, overhead: 0.7, bandwidth_single: 300, bandwidth_multiple: 900 });
    expect(j.mine).toEqual([1, 2]);
    expect(j.backends.Redis.url).toBe('redis://127.0.0.1:1');
    expect(j.calibration).toEqual({ date: 'now' });
    expect(loadConfig(j).model.Redis.overhead).toBe(0.7);
  });

  it('the policy follows what was written: a slow calibrated direct channel loses to Redis', () => {
    const fast = loadConfig(JSON.parse(original));
    expect(choose('send', 8, 4, 'fast', ['direct', 'redis'], fast).channel).toBe('direct');
    const slow = loadConfig(JSON.parse(withModel(original, { Direct: { overhead: 50, bandwidth: 10 } })));
    expect(choose('send', 8, 4, 'fast', ['direct', 'redis'], slow).channel).toBe('redis');
    expect(new Policy(slow, { ranks: 4 }).estimate('direct', 'send', 0).time_s).toBeCloseTo(0.05, 12);
  });

  it('a new config when there is none: direct enabled, the measured fields', () => {
    const j = JSON.parse(withModel(undefined, { Direct: { overhead: 0.02, bandwidth: 2000 } }));
    expect(j.backends).toEqual({ Direct: { enabled: true } });
    expect(loadConfig(j).model.Direct).toMatchObject({ overhead: 0.02, bandwidth: 2000, vm_price: 0.0134 });
  });

  it('bad files and bad values are FMI_CONFIG errors', () => {
    expect(() => withModel('{"backends": ', {})).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
    expect(() => withModel('[1]', {})).toThrow(expect.objectContaining({ code: 'FMI_CONFIG' }));
    expect(() => withModel('{"backends": {"Direct": {"enabled": true}}, "model": 3}', {})).toThrow(/model: must be an object/);
    expect(() => withModel(undefined, { Direct: { overhead: -1, bandwidth: 1 } })).toThrow(/cannot be negative/);
  });
});

describe('calibrate - fmi calibrate on real ranks', () => {
  it('direct alone without a config: writes a config loadConfig accepts, and the model uses its numbers', async () => {
    const out = join(dir, 'direct.json');
    const r = await run(['calibrate', '-n', '2', '--quick', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    const config = loadConfig(out);
    expect(config.backends.Direct?.enabled).toBe(true);
    expect(config.model.Direct.overhead).toBe(report.model.Direct.overhead);
    expect(config.model.Direct.bandwidth).toBe(report.model.Direct.bandwidth);
    // The hop inside a collective, from the barrier every rank took part in.
    expect(config.model.Direct.collective_overhead).toBeGreaterThan(0);
    expect(config.model.Direct.collective_overhead).toBe(report.model.Direct!.collective_overhead);
    // The star bcast's step, from rank 0 writing to every rank at once after a barrier.
    expect(config.model.Direct.fanout_overhead).toBeGreaterThan(0);
    expect(config.model.Direct.fanout_overhead).toBe(report.model.Direct!.fanout_overhead);
    expect(report.channels.direct.source).toBe('pingpong');
    // Nothing is timed on cold code: a warm-up of rounds of every hot path first (quick: 50 rounds or 0.3 s).
    const warm = report.channels.direct.warm;
    expect(warm.rounds >= 50 || warm.ms >= 300).toBe(true);
    expect(report.channels.direct.pingpong.map((p: { bytes: number }) => p.bytes)).toEqual([8, 1024, 16384, 65536, 262144, 524288, 1048576]);
    const e = estimate('direct', 'send', 1 << 20, 2, config, { into: true });
    expect(e.time_s).toBeCloseTo(config.model.Direct.overhead / 1e3 + (1 << 20) / (config.model.Direct.bandwidth * 1e6), 12);
    // An allreduce's result copied into new memory pays for it (a message the socket fills does not).
    const fresh = estimate('direct', 'allreduce', 1 << 20, 2, config).time_s - estimate('direct', 'allreduce', 1 << 20, 2, config, { into: true }).time_s;
    expect(fresh).toBeCloseTo((config.model.FaaS.fresh_overhead + config.model.FaaS.fresh_memory) / 1e3, 12);
    expect(estimate('direct', 'send', 1 << 20, 2, config).time_s).toBe(e.time_s);
    expect(JSON.parse(readFileSync(out, 'utf8')).calibration.ranks).toBe(2);
    // Next to each ping-pong, the written model's message of that size.
    expect(report.sends).toHaveLength(7);
    for (const s of report.sends) expect(s.model_s).toBeCloseTo(estimate('direct', 'send', s.bytes, 2, config, { into: true }).time_s, 12);
  });

  describe('with Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis?.stop());

    it('measures every enabled channel and updates the config in place, keeping its other settings', async () => {
      const cfg = join(dir, 'redis.json');
      const text = `{\n    "backends": {\n        "Direct": {"enabled": true},\n        "Redis": {"enabled": true, "url": "${redis.url}"}\n    },\n    "model": {"Redis": {"instance_price": 0.25}, "FaaS": {"gib_second_price": 0.00002}}\n}\n`;
      writeFileSync(cfg, text);
      const lines: string[] = [];
      const r = await calibrate({ configPath: cfg, ranks: 3, quick: true, log: (l) => lines.push(l) });
      expect(r.channels).toEqual(['direct', 'redis']);
      expect(lines.join('\n')).toMatch(/redis, 3 ranks/);
      const written = readFileSync(cfg, 'utf8');
      expect(written).toMatch(/^\{\n {4}"backends"/);
      const config = loadConfig(cfg);
      expect(config.model.Redis.instance_price).toBe(0.25);
      expect(config.model.FaaS.gib_second_price).toBe(0.00002);
      expect(config.model.Redis.overhead).toBe(r.model.Redis!.overhead);
      expect(config.model.Redis.bandwidth_single).toBe(r.model.Redis!.bandwidth_single);
      expect(config.model.Redis.bandwidth_multiple).toBeGreaterThanOrEqual(config.model.Redis.bandwidth_single);
      expect(config.model.Direct.overhead).toBe(r.model.Direct!.overhead);
      // The direct channel: the ping-pong, and a gap from bursts.
      expect(r.fits.find((f) => f.channel === 'direct')!.source).toBe('pingpong');
      expect(r.measurements[0]!.burst!.map((b) => b.bytes)).toEqual([1, 4, 16]);
      expect(config.model.Direct.gap).toBe(r.model.Direct!.gap);
      expect(config.model.Redis.gap).toBe(r.model.Redis!.gap);
      // The bcast's write and reads as one step, after a barrier, on either channel.
      expect(config.model.Redis.fanout_overhead).toBeGreaterThan(0);
      expect(config.model.Redis.fanout_overhead).toBe(r.model.Redis!.fanout_overhead);
      expect(config.model.Direct.fanout_overhead).toBe(r.model.Direct!.fanout_overhead);
      // Redis's fan-in (every other rank sending rank 0 a message at once after a barrier), at every size, rank 0's time: a line of its own.
      expect(r.measurements[1]!.fanin!.map((f) => f.bytes)).toEqual([8, 1024, 65536, 1048576]);
      for (const f of r.measurements[1]!.fanin!) expect(f.seconds).toBeGreaterThan(0);
      expect(config.model.Redis.fanin_bandwidth).toBeGreaterThan(0);
      expect(config.model.Redis.fanin_bandwidth).toBe(r.model.Redis!.fanin_bandwidth);
      expect(config.model.Redis.fanin_overhead).toBe(r.model.Redis!.fanin_overhead);
      expect(r.measurements[0]!.fanin).toBeUndefined();
      // The allreduce itself back to back at every size, which the fan-in is fitted to (fitFanIn): the written fan-in is its.
      expect(r.measurements[1]!.allreduce!.map((a) => a.bytes)).toEqual([8, 1024, 65536, 1048576]);
      for (const a of r.measurements[1]!.allreduce!) expect(a.seconds).toBeGreaterThan(0);
      const fromAllreduce = fitChannel(r.measurements[1]!).fanIn!;
      expect(fitChannel({ ...r.measurements[1]!, fanin: undefined }).fanIn).toEqual(fromAllreduce);
      // Fresh memory inside the operations, on the direct channel (whichever job comes first): the allreduce fitted, the bcast kept.
      expect(r.measurements[0]!.channel).toBe('direct');
      expect(r.measurements[0]!.fresh!.map((f) => f.bytes)).toEqual([...FRESH_SIZES]);
      expect(r.measurements[0]!.freshBcast!.map((f) => f.bytes)).toEqual([...FRESH_SIZES]);
      for (const f of [...r.measurements[0]!.fresh!, ...r.measurements[0]!.freshBcast!]) expect(f.put > 0 && f.get > 0).toBe(true);
      expect(r.measurements[1]!.fresh).toBeUndefined();
      expect(config.model.FaaS.fresh_memory).toBe(r.model.FaaS!.fresh_memory);
      expect(config.model.FaaS.fresh_memory).toBeGreaterThanOrEqual(0);
      const redisFit = r.measurements.find((m) => m.channel === 'redis')!;
      for (const m of r.measurements) expect(m.warm!.rounds >= 50 || m.warm!.ms >= 300, m.channel).toBe(true);
      expect(redisFit.legs.map((l) => l.bytes)).toEqual([8, 1024, 65536, 1048576]);
      expect(redisFit.pingpong.map((l) => l.bytes)).toEqual([8, 1024, 65536, 1048576]);
      const e = new Policy(config, { ranks: 3 }).estimate('redis', 'send', 0);
      expect(e.time_s).toBeCloseTo(config.model.Redis.overhead / 1e3, 12);
      // Two jobs of 3 ranks, fresh memory and bursts included: about 25 s at a load average of 30 on 2 cores.
    }, 180_000);
  });
});

describe('calibrate - S3', () => {
  it('fits the requests\' own time; the model adds the polling a ping-pong waits through', async () => {
    const s3 = s3Server();
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, key: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    try {
      const cfg = join(dir, 's3.json');
      writeFileSync(cfg, JSON.stringify({ backends: { S3: { enabled: true, bucket_name: s3.bucket, s3_region: s3.region, endpoint: s3.endpoint } }, model: { S3: { upload_price: 0.001 } } }));
      const r = await calibrate({ configPath: cfg, ranks: 2, quick: true, log: () => {} });
      const config = loadConfig(cfg);
      expect(config.model.S3.upload_price).toBe(0.001);
      expect(config.model.S3.overhead).toBe(r.model.S3!.overhead);
      expect(config.model.S3.bandwidth).toBe(r.model.S3!.bandwidth);
      expect(r.fits[0]!.source).toBe('legs');
      const m = r.measurements[0]!;
      expect(m.legs.map((l) => l.bytes)).toEqual([8, 65536, 1048576]);
      // Every rank writing and reading at once: its latency is overhead_multiple.
      expect(m.legsAll.map((l) => l.bytes)).toEqual([8, 65536, 1048576]);
      expect(config.model.S3.overhead_multiple).toBe(r.model.S3!.overhead_multiple);
      expect(config.model.S3.overhead_multiple).toBeGreaterThanOrEqual(0);
      // The model's message = a PUT, the reader's polling lag, a GET: more than the two requests alone.
      for (const s of r.sends) expect(s.model_s).toBeGreaterThan(config.model.S3.overhead / 1e3 + s.bytes / (config.model.S3.bandwidth * 1e6));
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.key;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.key === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
    // Two ranks alone and all at once, against an RGW on two cores: it took over 60 s at a load average of 50.
  }, 180_000);
});

describe('calibrate - bad input', () => {
  it('too few ranks, unknown or disabled channels are typed errors', async () => {
    await expect(calibrate({ ranks: 1 })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    await expect(calibrate({ ranks: 2.5 })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    await expect(calibrate({ channels: ['tcp' as never] })).rejects.toMatchObject({ code: 'MPI_ERR_ARG' });
    await expect(calibrate({ channels: ['s3'] })).rejects.toMatchObject({ code: 'FMI_CONFIG', message: expect.stringMatching(/backends\.S3\.enabled/) });
    await expect(calibrate({ configPath: join(dir, 'nope.json') })).rejects.toMatchObject({ code: 'FMI_CONFIG' });
    // --threads measures the direct channel between threads: a config without Direct cannot.
    const noDirect = join(dir, 'redis-only.json');
    writeFileSync(noDirect, JSON.stringify({ backends: { Redis: { enabled: true, url: 'redis://127.0.0.1:1' } } }));
    await expect(calibrate({ configPath: noDirect, threads: true })).rejects.toMatchObject({ code: 'FMI_CONFIG', message: expect.stringMatching(/--threads/) });
  });

  it('the command: usage errors exit 2, a bad config exits 1 and names it', async () => {
    const n1 = await run(['calibrate', '-n', '1']);
    expect(n1.code).toBe(2);
    expect(n1.stderr).toMatch(/-n needs an integer of at least 2/);
    const flag = await run(['calibrate', '--bogus']);
    expect(flag.code).toBe(2);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"backends": {"Direct": {"enabled": "yes"}}}');
    const r = await run(['calibrate', '--config', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/FMI_CONFIG.*backends\.Direct\.enabled/);
    expect(readFileSync(bad, 'utf8')).toBe('{"backends": {"Direct": {"enabled": "yes"}}}');
  });
});
