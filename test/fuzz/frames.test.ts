import { describe, expect, it } from 'vitest';
import { FmiError } from '../../src/errors.js';
import * as direct from '../../src/channels/direct/frame.js';
import * as redis from '../../src/channels/redis/frame.js';
import * as s3 from '../../src/channels/s3/wire.js';
import { bytesCodec, describeReport, fuzz, type FuzzTarget, type Rng } from './engine.js';
import { mutateBytes } from './mutate.js';

// The decoders of what peers and storage hand a rank, fuzzed in-process: a
// damaged or hostile frame must come out as a typed FMI_PROTOCOL error (or,
// for redis, a reason string), never as another exception or a header with
// fields out of range.

/** An FmiError FMI_PROTOCOL passes; anything else thrown is a crash. */
function onlyProtocolErrors(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof FmiError && err.code === 'FMI_PROTOCOL') return;
    throw err;
  }
}

function u32(rng: Rng): number {
  return rng.chance(0.5) ? rng.int(16) : rng.u32();
}

function directSeed(rng: Rng): Buffer {
  const b = Buffer.alloc(direct.HEADER_BYTES);
  const length = rng.pick([0, 1, 8, 65536, 2 ** 32, 2 ** 40, direct.MAX_PAYLOAD]);
  direct.writeHeader(b, 0, { kind: rng.int(256), ctx: u32(rng), tag: u32(rng) | 0, seq: rng.int(4), length });
  return b;
}

const directTarget: FuzzTarget<Buffer> = {
  name: 'direct-frame',
  codec: bytesCodec,
  generate: (rng) => {
    // Headers are read from a 32-byte buffer the connection fills: fuzz its contents, not its length.
    const m = mutateBytes(rng, directSeed(rng), directSeed(rng));
    const b = Buffer.alloc(direct.HEADER_BYTES);
    m.copy(b, 0, 0, Math.min(m.length, b.length));
    return b;
  },
  run: (b) => {
    for (const expected of [0, 1, 2, 3, 0xffffffff]) {
      onlyProtocolErrors(() => {
        const h = direct.readHeader(b, expected);
        if (h.seq !== expected >>> 0 || !(h.length >= 0 && h.length <= direct.MAX_PAYLOAD) || h.kind < 0 || h.kind > 255) {
          throw new Error(`header out of range: ${JSON.stringify(h)}`);
        }
      });
    }
  },
};

function redisSeed(rng: Rng): Buffer {
  const payload = Buffer.alloc(rng.int(40), 7);
  const count = rng.chance(0.5) ? 1 : 1 + rng.int(5);
  const b = Buffer.alloc(redis.HEADER_BYTES + payload.length);
  redis.writeHeader(b, { kind: rng.int(256), source: rng.int(8), ctx: u32(rng), tag: rng.int(1000), index: rng.int(count), count, total: count === 1 ? payload.length : rng.int(1e6) });
  payload.copy(b, redis.HEADER_BYTES);
  return rng.chance(0.1) ? redis.markFrame(rng.int(8), rng.int(100)) : b;
}

const redisTarget: FuzzTarget<Buffer> = {
  name: 'redis-frame',
  codec: bytesCodec,
  generate: (rng) => mutateBytes(rng, redisSeed(rng), redisSeed(rng)),
  run: (b) => {
    const h = redis.newHeader();
    const problem = redis.parseHeader(b, h);
    redis.markOf(b);
    if (problem !== undefined) {
      if (typeof problem !== 'string' || problem.length === 0) throw new Error(`bad problem ${String(problem)}`);
      return;
    }
    if (!(h.count > 0 && h.index < h.count && Number.isSafeInteger(h.total) && h.total >= 0 && h.kind >= 0 && h.kind <= 255)) {
      throw new Error(`accepted a header out of range: ${JSON.stringify(h)}`);
    }
  },
};

function s3Seed(rng: Rng): Buffer {
  const b = Buffer.alloc(s3.HEADER_BYTES + rng.int(24), 1);
  s3.writeHeader(b, rng.int(256), rng.chance(0.8) ? 0 : s3.FLAG_SKIP, u32(rng), rng.int(1000));
  return b;
}

const s3Target: FuzzTarget<Buffer> = {
  name: 's3-object',
  codec: bytesCodec,
  generate: (rng) => {
    const b = mutateBytes(rng, s3Seed(rng), s3Seed(rng));
    // Objects arrive as views into larger buffers as well.
    if (!rng.chance(0.3)) return b;
    const off = 1 + rng.int(7);
    const big = Buffer.alloc(b.length + off + 3);
    b.copy(big, off);
    return big.subarray(off, off + b.length);
  },
  run: (b) =>
    onlyProtocolErrors(() => {
      const h = s3.readHeader(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), 'fuzz/object');
      if (h.kind < 0 || h.kind > 255 || h.flags < 0 || h.flags > 255) throw new Error(`header out of range: ${JSON.stringify(h)}`);
    }),
};

describe('fuzz - frame decoders', () => {
  for (const target of [directTarget, redisTarget, s3Target]) {
    it(`${target.name}: damaged input is a typed error, never a crash`, async () => {
      const report = await fuzz(target);
      console.log(describeReport(report));
      expect(report.runs).toBeGreaterThan(0);
      expect(report.crashes).toEqual([]);
    });
  }
});
