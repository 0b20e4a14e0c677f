// One invocation of the Invoke API test double (invoke-double.mjs): a process
// of its own, as Lambda gives each concurrent invocation its own sandbox. It
// loads the handler module (the init phase), says "ready", takes the event and
// the deadline, runs the handler with a context whose
// getRemainingTimeInMillis() counts down to that deadline, and sends back what
// the handler resolved to (or the error it threw, as Lambda reports one).
import { pathToFileURL } from 'node:url';

const [modulePath, exportName = 'handler'] = process.argv.slice(2);
const send = (m) => new Promise((resolve) => process.send(m, resolve));

let handler;
try {
  const mod = await import(pathToFileURL(modulePath).href);
  handler = mod[exportName];
  if (typeof handler !== 'function') throw new Error(`${modulePath} exports no function ${exportName}`);
} catch (err) {
  await send({ t: 'error', errorType: 'Runtime.ImportModuleError', errorMessage: String(err?.message ?? err), trace: String(err?.stack ?? '').split('\n') });
  process.exit(1);
}

process.on('message', async (m) => {
  const context = {
    awsRequestId: m.requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, m.deadline - Date.now()),
  };
  try {
    const result = await handler(m.event, context);
    await send({ t: 'result', payload: JSON.stringify(result ?? null) });
  } catch (err) {
    await send({ t: 'error', errorType: err?.name ?? 'Error', errorMessage: String(err?.message ?? err), trace: String(err?.stack ?? '').split('\n') });
  }
  // Lambda freezes the sandbox after the response; this double ends it.
  process.exit(0);
});
await send({ t: 'ready' });
