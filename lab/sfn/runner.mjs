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

// arn:aws:states:::states:startExecution.sync:2 Tasks run the named state machine's
// definition as a nested execution and answer as Step Functions does: on success the
// DescribeExecution fields with Output as JSON; on failure States.TaskFailed with the
// DescribeExecution answer, as JSON, in the cause.
const machines = JSON.parse(process.env.DRAINPIPE_MACHINES ?? '{}');
const SYNC = 'arn:aws:states:::states:startExecution.sync:2';
let children = 0;

function syncTasks(states, names = []) {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state.Type === 'Task' && state.Resource === SYNC) names.push(name);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) syncTasks(processor.States, names);
    for (const branch of state.Branches ?? []) syncTasks(branch.States, names);
  }
  return names;
}

function handlersFor(def) {
  return Object.fromEntries(syncTasks(def.States).map((name) => [name, runChild]));
}

async function runChild(params) {
  const file = machines[params.StateMachineArn];
  if (!file) {
    const err = new Error(`State Machine Does Not Exist: '${params.StateMachineArn}'`);
    err.name = 'StepFunctions.StateMachineDoesNotExistException';
    throw err;
  }
  const def = JSON.parse(readFileSync(file, 'utf8'));
  const input = typeof params.Input === 'string' ? JSON.parse(params.Input) : (params.Input ?? {});
  const name = params.Name ?? `child-${String(++children).padStart(4, '0')}`;
  const arn = `${params.StateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  const tag = { child: name, instanceId: input?.instanceId };
  const startDate = new Date().toISOString();
  const child = new StateMachine(def, { validationOptions: { checkArn: true } }).run(input, {
    context: { Execution: { Id: arn, Input: input, Name: name, StartTime: startDate } },
    overrides: { taskResourceLocalHandlers: handlersFor(def) },
  });
  const events = follow(child, tag);
  const describe = { ExecutionArn: arn, StateMachineArn: params.StateMachineArn, Name: name, Input: JSON.stringify(input), StartDate: startDate };
  try {
    const output = await child.result;
    await events;
    emit({ ...tag, type: 'ExecutionSucceeded', output });
    return { ...describe, Output: output, Status: 'SUCCEEDED', StopDate: new Date().toISOString() };
  } catch (err) {
    await events.catch(() => {});
    const failure = err?.cause ?? err;
    emit({ ...tag, type: 'ExecutionFailed', error: failure?.name, cause: String(failure?.message ?? failure) });
    const taskFailed = new Error(JSON.stringify({ ...describe, Status: 'FAILED', StopDate: new Date().toISOString(),
      Error: failure?.name ?? 'Error', Cause: String(failure?.message ?? failure) }));
    taskFailed.name = 'States.TaskFailed';
    throw taskFailed;
  }
}

async function follow(execution, tag = {}) {
  for await (const e of execution.eventLogs) {
    if (e.type === 'StateEntered' || e.type === 'StateRetried' || e.type === 'StateCaught') {
      emit({ ...tag, type: e.type, name: e.state?.name, at: e.timestamp, ...(process.env.SFN_DEBUG ? { input: e.state?.input } : {}) });
    }
  }
}

const machine = new StateMachine(definition, { validationOptions: { checkArn: true } });
const execution = machine.run(input, {
  context: { Execution: { Id: process.env.EXECUTION_ID, Input: input, Name: process.env.EXECUTION_NAME ?? 'lab', StartTime: new Date().toISOString() } },
  overrides: { taskResourceLocalHandlers: handlersFor(definition) },
});

const events = follow(execution);

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
