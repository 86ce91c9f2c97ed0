// The lab's Step Functions engine: one Node process per lab that runs every execution in
// aws-local-stepfunctions (an independent implementation of the Amazon States Language),
// driven by package sfn in Go, which owns the registry of state machines and executions
// and the API around them.
//
// stdin, one JSON command per line:
//   {"op":"start","arn":...,"stateMachineArn":...,"name":...,"definition":<file>,"input":...,"startDate":...}
//   {"op":"stop","arn":...,"error":...,"cause":...}
// stdout, one JSON event per line, each naming its execution ("arn"):
//   {"arn","type":"StateEntered"|"StateExited"|"StateRetried"|"StateCaught","name","stateType","at"}
//   then exactly one terminal event: ExecutionSucceeded (output), ExecutionFailed (error,
//   cause), ExecutionAborted or ExecutionTimedOut, carrying the execution's statistics:
//   "events" (its history events, counted as Step Functions counts them) and
//   "maxPayloadBytes" (its largest state input or output).
//
// argv: time scale (real seconds per lab second), tools folder.
//
// What this file adds to the engine, each as Step Functions does it:
//   - the time scale: every timer (Wait states, Retry intervals) lasts scale times as long;
//   - Lambda service errors named "Lambda.<Code>", as Retry blocks match them, and a
//     function error's Cause the error payload as JSON, as on AWS;
//   - startExecution.sync:2 Tasks: StartExecution through the lab's Step Functions API (so
//     names are unique and a repeated start is idempotent, as on AWS), then the child's end;
//   - the quotas: a state input or output over 256 KiB fails the execution with
//     States.DataLimitExceeded, which no Retry or Catch handles (States.ALL or by name);
//     a Task result over it fails the Task (catchable); a history that reaches 25,000
//     events fails the execution with States.Runtime, uncatchable.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [scaleArg, tools] = process.argv.slice(2);
const scale = Number(scaleArg);
const { StateMachine } = await import(pathToFileURL(`${tools}/node_modules/aws-local-stepfunctions/build/main.node.esm.js`).href);
const { LambdaClient } = await import(pathToFileURL(`${tools}/node_modules/@aws-sdk/client-lambda/dist-cjs/index.js`).href);

export const PAYLOAD_LIMIT = 262144; // 256 KiB of UTF-8 JSON
export const HISTORY_LIMIT = 25000;
// Step Functions fails an execution whose history reaches the limit: the last event is
// ExecutionFailed, with States.Runtime, which no Catch handles.
const HISTORY_LIMIT_ERROR = 'States.Runtime';
const SYNC = 'arn:aws:states:::states:startExecution.sync:2';

const emit = (event) => process.stdout.write(JSON.stringify(event) + '\n');

// The time scale.
// (Node's timers hold at most 2^31-1 ms, about 24.8 days; a longer one fires at once, so
// a scaled Task timeout of a year is held to that.)
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (fn, ms, ...args) => realSetTimeout(fn, Math.min((ms ?? 0) * scale, 2 ** 31 - 1), ...args);

// A quota error. At a state's boundary (its input or output) it is terminal: neither Retry
// nor Catch, by States.ALL or by name, handles it. A Task's result over the limit fails the
// Task instead (LambdaFunctionFailed or TaskFailed), which a Catch may handle, as AWS does.
function quotaError(name, message, terminal) {
  const err = new Error(message);
  err.name = name;
  if (terminal) {
    err.isCatchable = false;
    err.isRetryable = false;
  }
  return err;
}

const bytes = (value) => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

function checkPayload(stats, what, value, terminal = true) {
  const n = bytes(value);
  stats.maxPayloadBytes = Math.max(stats.maxPayloadBytes, n);
  if (n > PAYLOAD_LIMIT) {
    throw quotaError('States.DataLimitExceeded', `The ${what} has a size of ${n} bytes, which exceeds the maximum of ${PAYLOAD_LIMIT} bytes (256 KiB).`, terminal);
  }
}

// Step Functions calls Lambda with the AWS SDK for Java, and names a service error by the
// SDK's exception class: Lambda.<Code> for an error Lambda's model declares (for Invoke:
// ServiceException, TooManyRequestsException, ResourceNotFoundException, ...), and
// Lambda.AWSLambdaException, the service's base class, for any other code (a 403
// AccessDeniedException, a 503); an answer that never came (a broken connection) is
// Lambda.SdkClientException. Its Cause is the Java SDK's message: "<message> (Service:
// AWSLambda; Status Code: <n>; Error Code: <code>; Request ID: <id>; Proxy: null)". The
// Retry of Step Functions' guide ("Handle Lambda service exceptions") matches these names.
const LAMBDA_MODELED = new Set([
  'EC2AccessDeniedException', 'EC2ThrottledException', 'EC2UnexpectedException', 'EFSIOException',
  'EFSMountConnectivityException', 'EFSMountFailureException', 'EFSMountTimeoutException', 'ENILimitReachedException',
  'InvalidParameterValueException', 'InvalidRequestContentException', 'InvalidRuntimeException',
  'InvalidSecurityGroupIDException', 'InvalidSubnetIDException', 'InvalidZipFileException', 'KMSAccessDeniedException',
  'KMSDisabledException', 'KMSInvalidStateException', 'KMSNotFoundException', 'RecursiveInvocationException',
  'RequestTooLargeException', 'ResourceConflictException', 'ResourceNotFoundException', 'ResourceNotReadyException',
  'ServiceException', 'SnapStartException', 'SnapStartNotReadyException', 'SnapStartTimeoutException',
  'SubnetIPAddressLimitReachedException', 'TooManyRequestsException', 'UnsupportedMediaTypeException',
]);

function javaServiceError(err, service, modeled, prefix, base) {
  const code = String(err.name);
  const status = err.$metadata?.httpStatusCode ?? err.$response?.statusCode;
  err.message = `${err.message} (Service: ${service}; Status Code: ${status}; Error Code: ${code}; Request ID: ${err.$metadata?.requestId ?? ''}; Proxy: null)`;
  err.name = `${prefix}.${modeled.has(code) ? code : base}`;
  return err;
}

// Lambda: name service errors as Step Functions does, and hold the result to the quota.
const send = LambdaClient.prototype.send;
LambdaClient.prototype.send = async function (...args) {
  let out;
  try {
    out = await send.apply(this, args);
  } catch (err) {
    if (String(err?.name).startsWith('Lambda.')) throw err;
    if (err?.$fault !== undefined) throw javaServiceError(err, 'AWSLambda', LAMBDA_MODELED, 'Lambda', 'AWSLambdaException');
    if (err?.$metadata !== undefined || ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(err?.code)) {
      err.name = 'Lambda.SdkClientException';
    }
    throw err;
  }
  if (out?.Payload && out.Payload.length > PAYLOAD_LIMIT) {
    throw quotaError('States.DataLimitExceeded', `The Lambda function's result has a size of ${out.Payload.length} bytes, which exceeds the maximum of ${PAYLOAD_LIMIT} bytes (256 KiB).`, false);
  }
  // A function error: Step Functions names it by the payload's errorType and gives the
  // payload itself, the JSON the function returned, as the Cause. (The engine would give
  // "<errorType>: <errorMessage>".)
  if (out?.FunctionError && out.Payload) {
    const text = new TextDecoder().decode(out.Payload);
    let name = 'Lambda.Unknown';
    try {
      name = JSON.parse(text).errorType ?? name;
    } catch {
      // not JSON: keep the generic name
    }
    const err = new Error(text);
    err.name = name;
    throw err;
  }
  return out;
};

// History events, as Step Functions records them, for each event the engine reports. A
// Task state calling a Lambda function ARN records TaskStateEntered, LambdaFunctionScheduled
// and LambdaFunctionStarted on entry, LambdaFunctionSucceeded (or Failed) and
// TaskStateExited on exit; a startExecution.sync:2 Task records TaskScheduled, TaskStarted
// and TaskSubmitted on entry, TaskSucceeded (or Failed) and TaskStateExited on exit. A Map
// records MapStateEntered and MapStateStarted, then per iteration MapIterationStarted and
// MapIterationSucceeded (or Failed) around the iteration's own states, then
// MapStateSucceeded and MapStateExited. Every other state records its Entered and Exited.
function kindOf(state) {
  if (!state) return 'Other';
  if (state.Type === 'Task') return state.Resource === SYNC ? 'SyncTask' : 'LambdaTask';
  if (state.Type === 'Map' || state.Type === 'Parallel') return 'Map';
  return 'Other';
}
const ENTERED = { LambdaTask: 3, SyncTask: 4, Map: 2, Other: 1 };
const EXITED = { LambdaTask: 2, SyncTask: 2, Map: 2, Other: 1 }; // the result, then ...StateExited
const FAILED = { LambdaTask: 1, SyncTask: 1, Map: 1, Other: 0 }; // LambdaFunctionFailed, TaskFailed, MapStateFailed
const RETRIED = { LambdaTask: 2, SyncTask: 3, Map: 1, Other: 0 }; // scheduled and started again

const executions = new Map(); // arn -> {arn, stats, abort, done (promise), result}
const definitions = new Map(); // file -> {definition, machine}
const executionMachines = new WeakMap(); // StateMachine run as an execution -> arn

// Instrument every execution of the engine, the root one and each Map iteration's: count
// its events into the execution it belongs to (an iteration belongs to its Map's
// execution) and hold every state input and output to the payload quota, synchronously,
// before the next state runs.
const execute = StateMachine.prototype.execute;
StateMachine.prototype.execute = function (input, options, cleanupFn) {
  const arn = options.runOptions?.context?.Execution?.Id;
  const ex = executions.get(arn);
  if (ex?.started) instrument(options.eventLogger, ex, this.definition);
  return execute.call(this, input, options, cleanupFn);
};

function instrument(logger, ex, definition) {
  const stats = ex.stats;
  const count = (n) => {
    if (stats.events + n > HISTORY_LIMIT - 1) {
      stats.events = HISTORY_LIMIT - 1; // the last event is the ExecutionFailed that follows
      throw quotaError(HISTORY_LIMIT_ERROR, `The execution reached the maximum number of history events (${HISTORY_LIMIT}).`, true);
    }
    stats.events += n;
  };
  const caught = new Set();
  const wrap = (method, fn) => {
    const original = logger[method].bind(logger);
    logger[method] = (...args) => {
      fn(...args);
      original(...args);
    };
  };
  wrap('dispatchExecutionStartedEvent', (input) => {
    count(1); // ExecutionStarted, or MapIterationStarted for an iteration
    checkPayload(stats, 'execution input', input);
  });
  // The end of the execution (or of the iteration) is recorded even past the limit.
  for (const method of ['dispatchExecutionSucceededEvent', 'dispatchExecutionFailedEvent', 'dispatchExecutionAbortedEvent', 'dispatchExecutionTimeoutEvent']) {
    wrap(method, () => { stats.events += 1; });
  }
  wrap('dispatchStateEnteredEvent', (name, _type, input) => {
    count(ENTERED[kindOf(definition.States[name])]);
    checkPayload(stats, `input of state ${name}`, input);
    emit({ arn: ex.arn, type: 'StateEntered', name, stateType: definition.States[name]?.Type, at: Date.now() });
  });
  wrap('dispatchStateExitedEvent', (name, _type, _input, output) => {
    const kind = kindOf(definition.States[name]);
    count(caught.delete(name) ? 1 : EXITED[kind]);
    checkPayload(stats, `output of state ${name}`, output);
    emit({ arn: ex.arn, type: 'StateExited', name, stateType: definition.States[name]?.Type, at: Date.now() });
  });
  wrap('dispatchStateFailedEvent', (name) => count(FAILED[kindOf(definition.States[name])]));
  wrap('dispatchStateRetriedEvent', (name) => {
    count(RETRIED[kindOf(definition.States[name])]);
    emit({ arn: ex.arn, type: 'StateRetried', name, at: Date.now() });
  });
  wrap('dispatchStateCaughtEvent', (name) => {
    caught.add(name);
    emit({ arn: ex.arn, type: 'StateCaught', name, at: Date.now() });
  });
}

// startExecution.sync:2: start the child through the lab's Step Functions API, then wait
// for its end and answer as Step Functions does: the DescribeExecution fields with Output
// as JSON on success; States.TaskFailed with the DescribeExecution answer, as JSON, in the
// cause otherwise.
async function startSync(parentArn, params) {
  const input = params.Input === undefined ? {} : params.Input;
  const body = { stateMachineArn: params.StateMachineArn, input: typeof input === 'string' ? input : JSON.stringify(input) };
  if (params.Name !== undefined) body.name = params.Name;
  const resp = await fetch(process.env.AWS_ENDPOINT_URL, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AWSStepFunctions.StartExecution', 'X-Lab-Parent-Execution': parentArn },
    body: JSON.stringify(body),
  });
  const answer = await resp.json();
  if (!resp.ok) {
    // As for Lambda, the Java SDK's class: the modelled errors of StartExecution by name
    // (ExecutionAlreadyExists is ExecutionAlreadyExistsException), any other code (a
    // throttling, a 500, an AccessDeniedException) as the base AWSStepFunctionsException.
    const code = String(answer.__type ?? 'ServiceException').split('#').pop();
    const err = new Error(answer.message ?? code);
    err.name = code;
    err.$metadata = { httpStatusCode: resp.status, requestId: resp.headers.get('x-amzn-requestid') ?? '' };
    const cls = code.endsWith('Exception') ? code : code + 'Exception';
    throw Object.assign(javaServiceError(err, 'AWSStepFunctions', SFN_MODELED, 'StepFunctions', 'AWSStepFunctionsException'), {
      name: SFN_MODELED.has(code) ? `StepFunctions.${cls}` : 'StepFunctions.AWSStepFunctionsException',
    });
  }
  const child = await settled(answer.executionArn);
  const describe = {
    ExecutionArn: answer.executionArn, StateMachineArn: params.StateMachineArn, Name: child.name, Input: body.input,
    StartDate: child.startDate, StopDate: child.stopDate, Status: child.status,
  };
  if (child.status === 'SUCCEEDED') {
    const result = { ...describe, Output: child.output };
    checkPayload({ maxPayloadBytes: 0 }, 'result of the child execution', result, false);
    return result;
  }
  const err = new Error(JSON.stringify({ ...describe, Error: child.error, Cause: child.cause }));
  err.name = 'States.TaskFailed';
  throw err;
}

// The errors StartExecution's model declares, by wire code.
const SFN_MODELED = new Set([
  'ExecutionAlreadyExists', 'ExecutionLimitExceeded', 'InvalidArn', 'InvalidExecutionInput', 'InvalidName',
  'StateMachineDeleting', 'StateMachineDoesNotExist', 'ValidationException', 'KmsAccessDeniedException',
  'KmsInvalidStateException', 'KmsThrottlingException',
]);

function syncTasks(states, names = []) {
  for (const [name, state] of Object.entries(states ?? {})) {
    if (state.Type === 'Task' && state.Resource === SYNC) names.push(name);
    const processor = state.ItemProcessor ?? state.Iterator;
    if (processor) syncTasks(processor.States, names);
    for (const branch of state.Branches ?? []) syncTasks(branch.States, names);
  }
  return names;
}

// entry returns the execution's record, made on first use: the answer to StartExecution
// may reach a startExecution.sync:2 Task before the start command reaches this process.
function entry(arn) {
  if (!executions.has(arn)) {
    let finish;
    const done = new Promise((resolve) => { finish = resolve; });
    executions.set(arn, { arn, stats: { events: 0, maxPayloadBytes: 0 }, done, finish });
  }
  return executions.get(arn);
}

// settled resolves with the execution's end once it has ended.
const settled = (arn) => entry(arn).done;

// machineOf is the definition in the file and its engine, validated once (the engine's
// validation takes tens of milliseconds, and a rollout starts thousands of executions).
function machineOf(file) {
  if (!definitions.has(file)) {
    const definition = JSON.parse(readFileSync(file, 'utf8'));
    definitions.set(file, { definition, machine: new StateMachine(definition, { validationOptions: { checkArn: true } }) });
  }
  return definitions.get(file);
}

function start(cmd) {
  const ex = entry(cmd.arn);
  if (ex.started) return;
  Object.assign(ex, { started: true, name: cmd.name, startDate: cmd.startDate });
  const end = (fields) => {
    if (ex.ended) return;
    ex.ended = true;
    const stopDate = new Date().toISOString();
    emit({ arn: ex.arn, ...fields, at: Date.now(), events: ex.stats.events, maxPayloadBytes: ex.stats.maxPayloadBytes });
    const status = { ExecutionSucceeded: 'SUCCEEDED', ExecutionFailed: 'FAILED', ExecutionAborted: 'ABORTED', ExecutionTimedOut: 'TIMED_OUT' }[fields.type];
    ex.finish({ name: ex.name, startDate: ex.startDate, stopDate, status, output: fields.output, error: fields.error, cause: fields.cause });
  };
  let definition, machine;
  try {
    ({ definition, machine } = machineOf(cmd.definition));
  } catch (err) {
    end({ type: 'ExecutionFailed', error: 'States.Runtime', cause: String(err?.message ?? err) });
    return;
  }
  const handlers = Object.fromEntries(syncTasks(definition.States).map((name) => [name, (params) => startSync(cmd.arn, params)]));
  const execution = machine.run(cmd.input, {
    context: {
      Execution: { Id: cmd.arn, Input: cmd.input, Name: cmd.name, StartTime: cmd.startDate, RoleArn: 'arn:aws:iam::123456789012:role/lab' },
      StateMachine: { Id: cmd.stateMachineArn, Name: cmd.stateMachineArn.split(':').pop() },
    },
    overrides: { taskResourceLocalHandlers: handlers },
  });
  ex.abort = execution.abort;
  // Drain the engine's own event log (the events above are sent as they happen).
  (async () => { for await (const _ of execution.eventLogs); })().catch(() => {});
  execution.result.then(
    (output) => end({ type: 'ExecutionSucceeded', output }),
    (err) => {
      if (ex.stopped) return end({ type: 'ExecutionAborted', error: ex.stopped.error, cause: ex.stopped.cause });
      if (err?.name === 'ExecutionTimeoutError') return end({ type: 'ExecutionTimedOut', error: 'States.Timeout', cause: 'The execution timed out.' });
      // The engine rejects with an ExecutionError whose cause is the error that ended the
      // execution: for a Fail state, name = its Error and message = its Cause.
      const failure = err?.cause ?? err;
      end({ type: 'ExecutionFailed', error: failure?.name ?? 'Error', cause: String(failure?.message ?? failure) });
    },
  );
}

function stop(cmd) {
  const ex = executions.get(cmd.arn);
  if (!ex || ex.ended) return;
  ex.stopped = { error: cmd.error, cause: cmd.cause };
  ex.abort?.();
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.op === 'start') start(cmd);
  else if (cmd.op === 'stop') stop(cmd);
  else if (cmd.op === 'warm') {
    cmd.files.forEach(machineOf);
    emit({ type: 'Warmed' });
  }
});
lines.on('close', () => process.exit(0));
emit({ type: 'EngineReady' });
