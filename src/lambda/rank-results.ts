import { FmiError } from '../errors.js';
import type { LambdaContext, RankError, RankResult } from './payload.js';

/* What a function's ranks report, and what they read from Lambda's context (handler.ts and thread-ranks.ts). */

/** The handler and the launcher disagree on the ranks per invocation. */
export function perFunctionMismatch(sent: number, mine: number): FmiError {
  return new FmiError(
    'FMI_CONFIG',
    `the launcher sent ${sent} rank${sent > 1 ? 's' : ''} per invocation, this function runs ${mine} (lambdaHandler's ranksPerFunction): ` +
      `invoke it with --ranks-per-function ${mine}`,
  );
}

/** An error as the result carries it: an FmiError's code, else the error's name. */
export function rankError(err: unknown): RankError {
  if (err instanceof FmiError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: err.name || 'Error', message: err.message };
  return { code: 'Error', message: String(err) };
}

/** The result, or an error that says why it cannot be sent back (too large, not JSON). */
export function fitResponse<R>(out: RankResult<R>, max: number): RankResult<R> {
  let json: string | undefined;
  try {
    json = JSON.stringify(out);
  } catch (err) {
    return { rank: out.rank, ok: false, error: { code: 'FMI_RESULT_NOT_JSON', message: `rank ${out.rank}'s result cannot be sent back as JSON: ${(err as Error).message}` }, stats: out.stats };
  }
  const bytes = Buffer.byteLength(json ?? '', 'utf8');
  if (bytes <= max) return out;
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  return {
    rank: out.rank,
    ok: false,
    error: {
      code: 'FMI_RESULT_TOO_LARGE',
      message:
        `rank ${out.rank}'s response is ${mb(bytes)} MiB, above Lambda's ${mb(max)} MiB limit for a response: ` +
        `gather what you need to rank 0 and return a summary, or write large results to S3 and return their keys`,
    },
    stats: out.stats,
  };
}

/** Time left in the invocation (Infinity outside Lambda). */
export function remaining(context: LambdaContext): number {
  const ms = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : NaN;
  return Number.isFinite(ms) ? ms : Infinity;
}

/** The function's memory (1024 MiB outside Lambda). */
export function memoryMiB(): number {
  const v = Number(process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return Number.isFinite(v) && v > 0 ? v : 1024;
}

/** The rank, as far as the event says one, for a result whose payload is bad. */
export function rankOf(event: unknown): number {
  const r = (event as { fmi?: { rank?: unknown } } | null)?.fmi?.rank;
  return typeof r === 'number' && Number.isInteger(r) ? r : -1;
}
