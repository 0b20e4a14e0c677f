import type { ClientMessage, Endpoint, ServerMessage } from './protocol.js';

// What each side accepts from the other. A line is parsed JSON, so anything:
// null, an array, a number, an object with fields of any type. Nothing is
// read from it before its shape, types and ranges are checked here; a message
// that fails is answered (by the server) with an error and its connection
// closed. Fields not named here are kept, so that a newer peer can add some.

/** Largest job size the protocol carries (MPI ranks are C ints). */
export const MAX_RANKS = 0x7fffffff;
/** Longest job id (as the S3 channel allows). */
export const MAX_JOB_CHARS = 200;
/** Most listener addresses a rank may announce (the interfaces of one host; the server passes on 16). */
export const MAX_PRIV = 64;
const MAX_HOST_CHARS = 255;
const MAX_ERROR_CHARS = 1000;

type Obj = Record<string, unknown>;

/** The message, or what is wrong with it. */
export function parseClientMessage(raw: unknown): ClientMessage | string {
  if (!isObject(raw)) return `a message must be a JSON object, got ${describe(raw)}`;
  switch (raw.t) {
    case 'register':
      return (
        why('job', job(raw.job)) ??
        why('size', int(raw.size, 1, MAX_RANKS)) ??
        why('rank', int(raw.rank, 0, (raw.size as number) - 1)) ??
        (raw as ClientMessage)
      );
    case 'bye':
      return raw as ClientMessage;
    case 'launch':
      return why('job', job(raw.job)) ?? why('size', int(raw.size, 1, MAX_RANKS)) ?? (raw as ClientMessage);
    case 'abort':
      return why('rank', int(raw.rank, 0, MAX_RANKS - 1)) ?? (raw as ClientMessage);
    case 'enroll':
      return why('key', short(raw.key)) ?? (raw as ClientMessage);
    case 'pair': {
      const bad =
        why('job', job(raw.job)) ??
        why('from', int(raw.from, 0, MAX_RANKS - 1)) ??
        why('to', int(raw.to, 0, MAX_RANKS - 1)) ??
        (raw.from === raw.to ? 'from and to are the same rank' : undefined) ??
        why('priv', endpoints(raw.priv, MAX_PRIV));
      return bad ?? (raw as ClientMessage);
    }
    default:
      return `unknown message type ${describe(raw.t)}`;
  }
}

/** The message, or what is wrong with it. */
export function parseServerMessage(raw: unknown): ServerMessage | string {
  if (!isObject(raw)) return `a message must be a JSON object, got ${describe(raw)}`;
  switch (raw.t) {
    case 'registered':
    case 'enroll':
      return raw as ServerMessage;
    case 'challenge':
      return why('nonce', short(raw.nonce)) ?? (raw as ServerMessage);
    case 'joined':
    case 'paired':
    case 'starting':
    case 'started':
      return why('rank', int(raw.rank, 0, MAX_RANKS - 1)) ?? (raw as ServerMessage);
    case 'want':
      return why('from', int(raw.from, 0, MAX_RANKS - 1)) ?? (raw as ServerMessage);
    case 'gone':
      return why('rank', int(raw.rank, 0, MAX_RANKS - 1)) ?? why('clean', typeof raw.clean === 'boolean' ? undefined : 'not a boolean') ?? (raw as ServerMessage);
    case 'peer':
      return (
        why('pub', endpoint(raw.pub)) ??
        why('priv', endpoints(raw.priv, MAX_PRIV)) ??
        (raw.you === undefined ? undefined : why('you', endpoint(raw.you))) ??
        (raw as ServerMessage)
      );
    case 'error':
      return typeof raw.message === 'string' ? { t: 'error', message: raw.message.slice(0, MAX_ERROR_CHARS) } : 'error.message: not a string';
    default:
      return `unknown message type ${describe(raw.t)}`;
  }
}

/** Whether `e` is an address a peer may be dialed at. */
export function isEndpoint(e: unknown): e is Endpoint {
  return endpoint(e) === undefined;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function why(field: string, problem: string | undefined): string | undefined {
  return problem === undefined ? undefined : `${field}: ${problem}`;
}

function int(v: unknown, min: number, max: number): string | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) return `not an integer (${describe(v)})`;
  return v < min || v > max ? `${v} is not in [${min}, ${max}]` : undefined;
}

/** A nonce or key: base64 of 32 bytes (a proof is checked where it is used, whatever it is). */
function short(v: unknown): string | undefined {
  if (typeof v !== 'string') return `not a string (${describe(v)})`;
  return v.length === 0 || v.length > 64 ? 'must be 1-64 characters' : undefined;
}

function job(v: unknown): string | undefined {
  if (typeof v !== 'string') return `not a string (${describe(v)})`;
  return v.length === 0 || v.length > MAX_JOB_CHARS ? `must be 1-${MAX_JOB_CHARS} characters` : undefined;
}

function endpoint(v: unknown): string | undefined {
  if (!isObject(v)) return `not an endpoint (${describe(v)})`;
  if (typeof v.host !== 'string' || v.host.length === 0 || v.host.length > MAX_HOST_CHARS) return 'host: not a host name';
  return why('port', int(v.port, 0, 65535));
}

function endpoints(v: unknown, max: number): string | undefined {
  if (!Array.isArray(v)) return `not an array (${describe(v)})`;
  if (v.length > max) return `${v.length} endpoints, at most ${max}`;
  for (let i = 0; i < v.length; i++) {
    const bad = endpoint(v[i]);
    if (bad) return `[${i}] ${bad}`;
  }
  return undefined;
}

/** A short, safe rendering of a bad value for an error message. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}
