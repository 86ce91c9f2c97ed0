// Runs one Step Functions execution with aws-local-stepfunctions, an independent
// implementation of the Amazon States Language, and reports it as JSON lines on stdout:
// {"type":"StateEntered","name":...,"at":...} for each state, then one final
// {"type":"ExecutionSucceeded","output":...} or {"type":"ExecutionFailed","error":...,"cause":...}.
//
// argv: definition file, time scale (real seconds per lab second), tools folder.
// stdin: the execution input. Lambda Tasks reach AWS_ENDPOINT_URL_LAMBDA.
// Every timer of this process (Wait states, Retry intervals) runs at the time scale.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [definitionFile, scaleArg, tools] = process.argv.slice(2);
const scale = Number(scaleArg);
const { StateMachine } = await import(pathToFileURL(`${tools}/node_modules/aws-local-stepfunctions/build/main.node.esm.js`).href);

// Step Functions reports a Lambda service error (throttling, a missing function) as
// "Lambda.<Code>", which Retry blocks match; the engine passes the SDK's bare name. Name
// them as AWS does. (A function error, X-Amz-Function-Error, keeps its errorType.)
const { LambdaClient } = await import(pathToFileURL(`${tools}/node_modules/@aws-sdk/client-lambda/dist-cjs/index.js`).href);
const send = LambdaClient.prototype.send;
LambdaClient.prototype.send = async function (...args) {
  try {
    return await send.apply(this, args);
  } catch (err) {
    if (err?.$fault !== undefined && !String(err.name).startsWith('Lambda.')) {
      err.name = `Lambda.${err.name}`;
    }
    throw err;
  }
};

const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...args) => realSetTimeout(fn, (ms ?? 0) * scale, ...args);

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');
const definition = JSON.parse(readFileSync(definitionFile, 'utf8'));
const input = JSON.parse(readFileSync(0, 'utf8'));

const machine = new StateMachine(definition, { validationOptions: { checkArn: true } });
const execution = machine.run(input, {
  context: { Execution: { Input: input, Name: process.env.EXECUTION_NAME ?? 'lab', StartTime: new Date().toISOString() } },
});

const events = (async () => {
  for await (const e of execution.eventLogs) {
    if (e.type === 'StateEntered' || e.type === 'StateRetried' || e.type === 'StateCaught') {
      emit({ type: e.type, name: e.state?.name, at: e.timestamp, ...(process.env.SFN_DEBUG ? { input: e.state?.input } : {}) });
    }
  }
})();

try {
  const output = await execution.result;
  await events;
  emit({ type: 'ExecutionSucceeded', output });
} catch (err) {
  await events.catch(() => {});
  // The engine rejects with an ExecutionError whose cause is the error that ended the
  // execution: for a Fail state, name = its Error and message = its Cause.
  const failure = err?.cause ?? err;
  emit({ type: 'ExecutionFailed', error: failure?.name ?? 'Error', cause: String(failure?.message ?? failure) });
}
