import type { Rng } from './engine.js';

// Mutations of recorded inputs: bytes (frames, raw lines) and parsed JSON
// values (protocol messages, config files). Interesting values are the
// edges validation must handle: wrong types, limits of u32/i32/safe
// integers, huge and fractional numbers, empty and long strings.

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_BYTES = [0x00, 0x01, 0x0a, 0x20, 0x7f, 0x80, 0xfe, 0xff];

/** One to four byte mutations of `seed`, sometimes spliced with `other`. */
export function mutateBytes(rng: Rng, seed: Buffer, other?: Buffer): Buffer {
  let b = Buffer.from(seed);
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    const at = rng.int(Math.max(1, b.length));
    switch (rng.int(9)) {
      case 0:
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (b.length) b[at] = rng.int(256);
        break;
      case 2:
        if (b.length) b[at] = rng.pick(INTERESTING_BYTES);
        break;
      case 3: {
        const off = at & ~3;
        if (off + 4 <= b.length) b.writeUInt32LE(rng.pick(INTERESTING_U32), off);
        break;
      }
      case 4:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.int(256)]), b.subarray(at)]);
        break;
      case 5:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(8))]);
        break;
      case 6:
        b = b.subarray(0, rng.int(b.length + 1));
        break;
      case 7: {
        const len = 1 + rng.int(16);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        break;
      }
      case 8:
        if (other?.length) {
          const from = rng.int(other.length);
          b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + rng.int(32))]);
        }
        break;
    }
  }
  return b;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const KEYS = ['t', 'job', 'rank', 'size', 'from', 'to', 'priv', 'pub', 'host', 'port', 'enabled', 'backends', 'model', '__proto__', 'constructor', 'toString', ''];

/** A value of any JSON type, biased to the edges. */
export function interestingValue(rng: Rng, depth = 0): Json {
  switch (rng.int(depth > 2 ? 9 : 12)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -0, 1, -1, 0.5, -0.5, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e300, -1e300, 5e-324, 65535, 65536]);
    case 3:
      return rng.int(10);
    case 4:
      return rng.pick(['', 'x', '0', '1', 'register', 'pair', 'bye', 'true', 'null', '127.0.0.1', '::1', '../x', 'a/b', '\u0000', '\ud800', '\n']);
    case 5:
      return 'x'.repeat(rng.pick([199, 200, 201, 255, 256, 1000, 70_000]));
    case 6:
      return String(rng.u32());
    case 7:
      return [];
    case 8:
      return {};
    case 9:
      return Array.from({ length: rng.int(4) }, () => interestingValue(rng, depth + 1));
    case 10:
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick(KEYS), interestingValue(rng, depth + 1)]));
    default:
      return { host: interestingValue(rng, depth + 1), port: interestingValue(rng, depth + 1) };
  }
}

/** One to three structural mutations of a JSON value: replace, delete or add at a random place. */
export function mutateJson(rng: Rng, seed: Json): Json {
  let v = structuredClone(seed);
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) v = mutateOnce(rng, v);
  return v;
}

function mutateOnce(rng: Rng, v: Json): Json {
  // Walk down to a random container, then change one of its entries.
  if (v === null || typeof v !== 'object' || rng.chance(0.15)) return interestingValue(rng);
  const keys = Array.isArray(v) ? v.map((_, i) => String(i)) : Object.keys(v);
  if (keys.length > 0 && rng.chance(0.5)) {
    const k = rng.pick(keys);
    const child = (v as Record<string, Json>)[k]!;
    (v as Record<string, Json>)[k] = child !== null && typeof child === 'object' && rng.chance(0.6) ? mutateOnce(rng, child) : interestingValue(rng);
    return v;
  }
  const op = rng.int(3);
  if (op === 0 && keys.length > 0) {
    if (Array.isArray(v)) v.splice(rng.int(v.length), 1);
    else delete (v as Record<string, Json>)[rng.pick(keys)];
  } else if (Array.isArray(v)) {
    v.push(op === 1 && v.length ? structuredClone(rng.pick(v)) : interestingValue(rng));
  } else {
    Object.defineProperty(v, rng.pick(KEYS), { value: interestingValue(rng), enumerable: true, configurable: true, writable: true });
  }
  return v;
}

export type { Json };
