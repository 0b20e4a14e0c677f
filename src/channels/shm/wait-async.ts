/**
 * Atomics.waitAsync (V8, Node 16+), typed here: the project's TypeScript lib
 * predates ES2024, where it is declared.
 */
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };

const atomics = Atomics as unknown as { waitAsync(a: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult };

export function waitAsync(a: Int32Array, index: number, value: number): WaitAsyncResult {
  return atomics.waitAsync(a, index, value);
}
