import { FmiError } from '../errors.js';

/** What an Invoke call answered (no exception: the function ran). */
export interface InvokeAnswer {
  /** Parsed JSON of the response payload (null when empty or not JSON). */
  payload: unknown;
  /** Lambda's FunctionError ('Unhandled', ...): the function threw or was killed. */
  functionError?: string;
  /** "Billed Duration" and "Memory Size" from the log tail's REPORT line. */
  billedMs?: number;
  memoryMiB?: number;
}

/** The few parts of @aws-sdk/client-lambda the launcher uses. */
export interface LambdaApi {
  send(functionName: string, payload: Uint8Array): Promise<{ Payload?: Uint8Array; FunctionError?: string; LogResult?: string }>;
  destroy(): void;
}

export interface OpenLambdaOptions {
  region?: string;
  endpoint?: string;
  /** Invocations in flight at once: one HTTP connection each (RequestResponse holds it for the whole run). */
  maxSockets: number;
  clientConfig?: Record<string, unknown>;
}

/** Longest a function may run (15 min), and then some: an Invoke call's socket must not time out before. */
const SOCKET_TIMEOUT_MS = 16 * 60 * 1000;

/**
 * A Lambda client. The SDK is imported here, when a job is launched, never
 * when fmi or fmi/lambda is loaded: a function that only handles invocations
 * must not pay for it. The SDK's own retries are off (maxAttempts 1, and a
 * caller's maxAttempts, retryStrategy or retryMode are dropped): the launcher
 * retries only what cannot have run a rank.
 */
export async function openLambda(o: OpenLambdaOptions): Promise<LambdaApi> {
  let sdk: typeof import('@aws-sdk/client-lambda');
  try {
    sdk = await import('@aws-sdk/client-lambda');
  } catch (cause) {
    throw new FmiError('FMI_CONFIG', 'fmi lambda invoke needs @aws-sdk/client-lambda (npm install @aws-sdk/client-lambda)', { cause });
  }
  const agent = { maxSockets: o.maxSockets, keepAlive: true };
  // Retries are the launcher's alone, whatever the caller's config (or AWS_MAX_ATTEMPTS) says: the SDK would
  // send a call that failed after the rank started again, and that second run is refused, its first result lost.
  const { maxAttempts: _a, retryStrategy: _s, retryMode: _m, ...rest } = o.clientConfig ?? {};
  const client = new sdk.LambdaClient({
    ...(o.region !== undefined && { region: o.region }),
    ...(o.endpoint !== undefined && { endpoint: o.endpoint }),
    // The SDK's default is 50 connections: a job of more ranks would never have all of them running.
    requestHandler: { httpAgent: agent, httpsAgent: agent, socketTimeout: SOCKET_TIMEOUT_MS, requestTimeout: 0, connectionTimeout: 10_000 },
    ...rest,
    maxAttempts: 1,
  });
  return {
    send: (functionName, payload) =>
      client.send(new sdk.InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', LogType: 'Tail', Payload: payload })),
    destroy: () => client.destroy(),
  };
}

export async function callInvoke(api: LambdaApi, functionName: string, payload: Uint8Array): Promise<InvokeAnswer> {
  const r = await api.send(functionName, payload);
  let parsed: unknown = null;
  const text = r.Payload && r.Payload.byteLength > 0 ? Buffer.from(r.Payload).toString('utf8') : '';
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { payload: parsed, functionError: r.FunctionError, ...reportOf(r.LogResult) };
}

/** "Billed Duration: N ms" and "Memory Size: M MB" of the REPORT line in a base64 log tail. */
export function reportOf(logResult: string | undefined): { billedMs?: number; memoryMiB?: number } {
  if (!logResult) return {};
  const text = Buffer.from(logResult, 'base64').toString('utf8');
  const billed = /Billed Duration: (\d+) ms/.exec(text);
  const memory = /Memory Size: (\d+) MB/.exec(text);
  return { ...(billed && { billedMs: Number(billed[1]) }), ...(memory && { memoryMiB: Number(memory[1]) }) };
}
