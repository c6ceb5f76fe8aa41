/**
 * lambdad's Node.js runtime bootstrap: the process inside an execution environment.
 *
 * It speaks the Lambda Runtime API 2018-06-01 to AWS_LAMBDA_RUNTIME_API, loads the handler
 * named by _HANDLER from LAMBDA_TASK_ROOT (CommonJS through require(), ES modules through
 * import()) and runs invocations in a loop with the programming model of AWS's Node.js
 * runtime: async and promise-returning handlers, callback handlers whose result waits for
 * an empty event loop unless context.callbackWaitsForEmptyEventLoop is false,
 * context.done/succeed/fail, the same error payloads, init error types, exit statuses and
 * console log line format.
 *
 * CommonJS, Node.js 18 or later, no dependencies. One keep-alive HTTP/1.1 connection with
 * TCP_NODELAY carries every request to the Runtime API.
 */

'use strict';

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');
const streaming = require('./streaming.js');

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
// Other code in the process (tracing and logging libraries) finds the current request id
// under this well-known global symbol, as on AWS.
const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');

// Exit statuses of AWS's runtime, which the platform reports as Runtime.ExitError.
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;

// ------------------------------------------------------------------------------ errors

/** An Error subclass whose name (and so its stack's first line) is `Runtime.<short>`. */
function runtimeErrorClass(short) {
  const cls = class extends Error {};
  Object.defineProperty(cls.prototype, 'name', {
    value: `Runtime.${short}`,
    writable: true,
    configurable: true,
  });
  return cls;
}

const ImportModuleError = runtimeErrorClass('ImportModuleError');
const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
const UnhandledPromiseRejection = runtimeErrorClass('UnhandledPromiseRejection');
const NodeJsExit = runtimeErrorClass('NodeJsExit');

function isErrorLike(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    value.name !== '' &&
    value.message !== ''
  );
}

/** The body of an /error or /init/error request, as AWS's runtime builds it. */
function errorResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: typeof error.stack === 'string' ? error.stack.split('\n') : [],
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving ' +
        'one or more of its message, name, and stack',
    };
  }
}

/** An error as one log field: a tab, then JSON with name, message and stack lines. */
function formatErrorForLog(error) {
  const expand = (_key, value) => {
    if (!(value instanceof Error)) return value;
    const out = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
    return out;
  };
  try {
    return '\t' + JSON.stringify(error, expand);
  } catch (_) {
    return '\t' + JSON.stringify(errorResponse(error));
  }
}

// ----------------------------------------------------------------------------- console

const LOG_LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

function currentRequestId() {
  return globalThis[REQUEST_ID_SYMBOL];
}

// LoggingConfig.LogFormat JSON (AWS_LAMBDA_LOG_FORMAT): each console call is one JSON
// object {timestamp, level, requestId, message}, as AWS's runtime writes it.
const JSON_LOGS = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';

/** An Error as JSON logs show it (JSON.stringify of an Error alone is {}). */
function errorReplacer(_key, value) {
  if (!(value instanceof Error)) return value;
  return Object.assign(
    {
      errorType: value?.constructor?.name ?? 'UnknownError',
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
    },
    value,
  );
}

function jsonLine(level, message, params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: currentRequestId() };
  if (params.length === 0) {
    record.message = message;
    try {
      return JSON.stringify(record, errorReplacer);
    } catch (_) {
      record.message = util.format(message);
      return JSON.stringify(record);
    }
  }
  record.message = util.format(message, ...params);
  const error = params.find((p) => p instanceof Error);
  if (error !== undefined) {
    record.errorType = error?.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

function writeLog(level, message, params) {
  if (JSON_LOGS) {
    process.stdout.write(jsonLine(level, message, params) + '\n');
    return;
  }
  // One line per call: newlines inside the message become \r so that the log keeps a
  // multi-line message as one event.
  const text = util.format(message, ...params);
  const line = `${new Date().toISOString()}\t${currentRequestId()}\t${level}\t${text}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

/** Route console.* through writeLog, honouring AWS_LAMBDA_LOG_LEVEL like AWS does. */
function patchConsole() {
  const wanted = (process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase();
  const minimum = LOG_LEVELS[wanted] || LOG_LEVELS.TRACE;
  const logger = (level) =>
    LOG_LEVELS[level] >= minimum
      ? (message, ...params) => writeLog(level, message, params)
      : () => {};
  console.trace = logger('TRACE');
  console.debug = logger('DEBUG');
  console.info = logger('INFO');
  console.log = console.info;
  console.warn = logger('WARN');
  console.error = logger('ERROR');
  console.fatal = (message, ...params) => writeLog('FATAL', message, params);
}

function logError(label, error) {
  if (JSON_LOGS) {
    writeLog('ERROR', label, [error]);
    return;
  }
  console.error(label, formatErrorForLog(error));
}

// ------------------------------------------------------------------ Runtime API client

/**
 * One HTTP/1.1 connection to the Runtime API, one request at a time.
 *
 * Plain `net` rather than `http`: on the hot path `http`'s client costs about 0.2 ms more
 * per request. The Runtime API always answers with Content-Length. While idle the socket
 * is unref'd, so that a callback handler can still wait for an empty event loop.
 */
class Connection {
  constructor(host, port) {
    this.closed = false;
    this.used = false;
    this.current = null; // { resolve, reject, received }
    this.chunks = [];
    this.size = 0;
    this.head = null; // { status, headers, bodyStart, bodyEnd } once parsed
    this.socket = net.connect({ host, port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (err) => this.onClose(err));
    this.socket.on('close', () => this.onClose(new Error('the Runtime API closed the connection')));
  }

  send(head, body) {
    return new Promise((resolve, reject) => {
      this.used = true;
      this.current = { resolve, reject, received: false };
      this.socket.ref();
      // Head and body leave in one segment.
      this.socket.cork();
      this.socket.write(head, 'latin1');
      if (body) this.socket.write(body, 'utf8');
      this.socket.uncork();
    });
  }

  close() {
    this.closed = true;
    this.socket.destroy();
  }

  onData(chunk) {
    const current = this.current;
    if (current === null) return; // nothing asked: ignore
    current.received = true;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.head === null) {
      const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.size);
      this.chunks = [data];
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      try {
        this.head = parseHead(data.toString('utf8', 0, end), end + 4);
      } catch (err) {
        this.close();
        this.onClose(err);
        return;
      }
    }
    const head = this.head;
    if (this.size < head.bodyEnd) return;
    const data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    const response = {
      status: head.status,
      headers: head.headers,
      body: data.toString('utf8', head.bodyStart, head.bodyEnd),
    };
    this.chunks = [];
    this.size = 0;
    this.head = null;
    this.current = null;
    if (head.headers.connection === 'close') this.close();
    else this.socket.unref();
    current.resolve(response);
  }

  onClose(err) {
    this.closed = true;
    const current = this.current;
    this.current = null;
    if (current !== null) {
      err.received = current.received;
      current.reject(err);
    }
  }
}

function parseHead(text, bodyStart) {
  const lines = text.split('\r\n');
  const status = Number(lines[0].split(' ', 2)[1]);
  if (!/^HTTP\/1\.[01] /.test(lines[0]) || !Number.isInteger(status)) {
    throw new Error(`bad status line from the Runtime API: ${lines[0].slice(0, 100)}`);
  }
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon > 0) {
      headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
    }
  }
  const length = Number(headers['content-length'] || 0);
  return { status, headers, bodyStart, bodyEnd: bodyStart + length };
}

class RuntimeApi {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    if (colon <= 0) throw new Error(`AWS_LAMBDA_RUNTIME_API is not host:port: ${address}`);
    this.hostname = address.slice(0, colon).replace(/^\[|\]$/g, '');
    this.port = Number(address.slice(colon + 1));
    this.common = `Host: ${address}\r\nUser-Agent: lambdad-nodejs/${process.versions.node}\r\n`;
    this.connection = null;
  }

  nextInvocation() {
    return this.request('GET', `${API_PREFIX}/invocation/next`, null, '').then((res) => {
      if (res.status !== 200) {
        throw new Error(`GET /invocation/next answered ${res.status}: ${res.body.slice(0, 512)}`);
      }
      return res;
    });
  }

  postResponse(requestId, body) {
    const id = encodeURIComponent(requestId);
    return this.request('POST', `${API_PREFIX}/invocation/${id}/response`, body, '');
  }

  /**
   * Post an invocation error. `separately` uses a connection of its own: an uncaught
   * exception can strike while GET /next is waiting on the shared one.
   */
  postError(requestId, error, separately = false) {
    const id = encodeURIComponent(requestId);
    const response = errorResponse(error);
    // AWS's runtime sends the type header with init errors only; it goes with invocation
    // errors too so that the platform need not parse the body to learn the type.
    const extra = `${ERROR_TYPE_HEADER}: ${headerSafe(response.errorType)}\r\n`;
    const urlPath = `${API_PREFIX}/invocation/${id}/error`;
    return this.request('POST', urlPath, serializeError(response), extra, separately);
  }

  postInitError(error, separately = false) {
    const response = errorResponse(error);
    const extra = `${ERROR_TYPE_HEADER}: ${headerSafe(response.errorType)}\r\n`;
    const urlPath = `${API_PREFIX}/init/error`;
    return this.request('POST', urlPath, serializeError(response), extra, separately);
  }

  async request(method, urlPath, body, extraHeaders, separately = false) {
    let head = `${method} ${urlPath} HTTP/1.1\r\n${this.common}${extraHeaders}`;
    if (body !== null) {
      head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    }
    head += '\r\n';
    if (separately) {
      const connection = new Connection(this.hostname, this.port);
      try {
        return await connection.send(head, body);
      } finally {
        connection.close();
      }
    }
    for (let attempt = 0; ; attempt++) {
      if (this.connection === null || this.connection.closed) {
        this.connection = new Connection(this.hostname, this.port);
      }
      const connection = this.connection;
      const reused = connection.used;
      try {
        return await connection.send(head, body);
      } catch (err) {
        // A kept-alive connection the server closed while we were idle fails before any
        // answer: retry that once on a new connection.
        if (!reused || err.received || attempt > 0) throw err;
      }
    }
  }
}

function headerSafe(value) {
  return String(value).replace(/[^\t\x20-\x7e]/g, '');
}

function serializeError(response) {
  try {
    return JSON.stringify(response);
  } catch (_) {
    return JSON.stringify({ errorType: 'Error', errorMessage: 'Unable to stringify error' });
  }
}

// ---------------------------------------------------------------------- handler loading

function hasTypeModule(folder) {
  // The nearest package.json decides whether .js is an ES module; node_modules and the
  // file system root end the search.
  for (let dir = folder; ; dir = path.dirname(dir)) {
    if (dir.endsWith('/node_modules')) return false;
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module';
      } catch (err) {
        console.warn(`${manifest} cannot be read, it will be ignored for ES module detection.`, err);
        return false;
      }
    }
    if (dir === path.dirname(dir)) return false;
  }
}

async function importFile(file) {
  return import(pathToFileURL(file).href);
}

/** Load the user's module like AWS: extensionless, .js, .mjs, .cjs, then require.resolve. */
async function loadModule(taskRoot, moduleRoot, moduleName) {
  const base = path.resolve(taskRoot, moduleRoot, moduleName);
  if (fs.existsSync(base)) return require(base);
  const typeModule = hasTypeModule(path.dirname(base));
  if (fs.existsSync(`${base}.js`)) {
    return typeModule ? importFile(`${base}.js`) : require(`${base}.js`);
  }
  if (fs.existsSync(`${base}.mjs`)) return importFile(`${base}.mjs`);
  if (fs.existsSync(`${base}.cjs`)) return require(`${base}.cjs`);
  // A package in node_modules, or nothing: then the MODULE_NOT_FOUND error users know.
  return require(require.resolve(moduleName, { paths: [taskRoot, moduleRoot] }));
}

async function loadHandler(taskRoot, fullName) {
  if (fullName.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullName}' is not a valid handler name. ` +
        'Use absolute paths when specifying root directories in handler names.',
    );
  }
  // "dir/sub/app.nested.fn": module root "dir/sub/", module "app", property path "nested.fn".
  const moduleAndHandler = path.basename(fullName);
  const moduleRoot = fullName.slice(0, fullName.length - moduleAndHandler.length);
  const match = /^([^.]*)\.(.*)$/.exec(moduleAndHandler);
  if (!match) throw new MalformedHandlerName('Bad handler');
  const [, moduleName, handlerPath] = match;

  let userModule;
  try {
    userModule = await loadModule(taskRoot, moduleRoot, moduleName);
  } catch (err) {
    if (err instanceof SyntaxError) {
      const wrapped = new UserCodeSyntaxError(String(err));
      wrapped.stack = err.stack; // where the syntax error is, not where we loaded it
      throw wrapped;
    }
    if (err && err.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(String(err));
    throw err;
  }

  const handler = handlerPath.split('.').reduce((obj, key) => obj && obj[key], userModule);
  if (!handler) throw new HandlerNotFound(`${fullName} is undefined or not exported`);
  if (typeof handler !== 'function') throw new HandlerNotFound(`${fullName} is not a function`);
  return handler;
}

// ---------------------------------------------------------------------------- the loop

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class Runtime {
  constructor(api) {
    this.api = api;
    this.handler = null;
    this.handlerIsAsync = false;
    // What to do when the event loop drains during an invocation (see 'beforeExit').
    this.onEmptyEventLoop = null;
    // The invocation an uncaught exception or unhandled rejection is charged to.
    this.requestId = null;
  }

  installProcessHandlers() {
    process.on('beforeExit', () => {
      const action = this.onEmptyEventLoop;
      this.onEmptyEventLoop = null;
      if (action) action();
    });
    process.on('uncaughtException', (err) => {
      logError('Uncaught Exception', err);
      this.crash(err, EXIT_UNCAUGHT_EXCEPTION);
    });
    process.on('unhandledRejection', (reason) => {
      const err = new UnhandledPromiseRejection(String(reason));
      logError('Unhandled Promise Rejection', err);
      this.crash(err, EXIT_UNHANDLED_REJECTION);
    });
  }

  setHandler(handler) {
    this.handler = handler;
    // Decides what an invocation whose promise never settles reports (see invoke()).
    this.handlerIsAsync = handler.constructor && handler.constructor.name === 'AsyncFunction';
  }

  /** Report an error that escaped the handler's control, then end the process. */
  crash(err, status) {
    const posted =
      this.requestId === null
        ? this.api.postInitError(err, true)
        : this.api.postError(this.requestId, err, true);
    posted.then(
      () => process.exit(status),
      () => process.exit(status),
    );
  }

  scheduleNext() {
    setImmediate(() => {
      this.api.nextInvocation().then(
        (next) => this.invoke(next.body, next.headers),
        (err) => {
          process.stderr.write(`lambdad runtime: ${err.stack || err}\n`);
          process.exit(1);
        },
      );
    });
  }

  invoke(body, headers) {
    const requestId = headers['lambda-runtime-aws-request-id'];
    this.requestId = requestId;
    globalThis[REQUEST_ID_SYMBOL] = requestId;
    const traceId = headers['lambda-runtime-trace-id'];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;

    let reported = false;
    const report = (isError, value) => {
      if (reported) {
        console.error(
          'Invocation has already been reported as done. ' +
            'Cannot call complete more than once per invocation.',
        );
        return;
      }
      reported = true;
      this.onEmptyEventLoop = null;
      this.report(requestId, isError, value);
    };

    // The first of callback/done/succeed/fail wins; later calls do nothing.
    let finished = false;
    const once =
      (fn) =>
      (...args) => {
        if (finished) return;
        finished = true;
        fn(...args);
      };
    let waitForEmptyEventLoop = true;
    const done = (err, result) => {
      if (err !== undefined && err !== null) report(true, err);
      else report(false, result);
    };
    const callback = once((err, result) => {
      if (err !== undefined && err !== null) report(true, err);
      else if (!waitForEmptyEventLoop) report(false, result);
      else this.onEmptyEventLoop = () => setImmediate(() => report(false, result));
    });
    const succeed = once((result) => done(null, result));
    const fail = once((err) => done(err === undefined || err === null ? 'handled' : err, null));

    // A handler that neither calls back nor returns a promise succeeds with null once the
    // event loop drains; an async one that never settles fails.
    this.onEmptyEventLoop = () => {
      if (this.handlerIsAsync) {
        report(true, new NodeJsExit('The handler returned a promise that never settled.'));
      } else {
        report(false, null);
      }
    };

    try {
      const deadline = Number(headers['lambda-runtime-deadline-ms']);
      const env = process.env;
      const context = {
        get callbackWaitsForEmptyEventLoop() {
          return waitForEmptyEventLoop;
        },
        set callbackWaitsForEmptyEventLoop(value) {
          waitForEmptyEventLoop = value;
        },
        succeed,
        fail,
        done: once(done),
        functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
        clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: requestId,
        tenantId: headers['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis: () => deadline - Date.now(),
      };
      if (streaming.isStreaming(this.handler)) {
        this.invokeStreaming(requestId, JSON.parse(body), context);
        return;
      }
      const result = this.handler(JSON.parse(body), context, callback);
      if (result && typeof result.then === 'function') {
        result.then(succeed, fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  /** A handler wrapped by awslambda.streamifyResponse: its response streams (streaming.js). */
  invokeStreaming(requestId, event, context) {
    this.onEmptyEventLoop = null;
    streaming.invokeStreaming(
      this.api, this.handler, requestId, event, context, errorResponse, logError,
      (err) => {
        if (err === null) {
          this.scheduleNext();
          return;
        }
        process.stderr.write(`lambdad runtime: ${err.stack || err}\n`);
        process.exit(1);
      },
    );
  }

  report(requestId, isError, value) {
    let posted;
    if (isError) {
      logError('Invoke Error', value);
      posted = this.api.postError(requestId, value);
    } else {
      let body;
      try {
        body = JSON.stringify(value === undefined ? null : value);
      } catch (_) {
        const err = new Error('Unable to stringify response body');
        logError('Invoke Error', err);
        posted = this.api.postError(requestId, err);
      }
      if (posted === undefined) posted = this.api.postResponse(requestId, body);
    }
    posted.then(
      () => this.scheduleNext(),
      (err) => {
        process.stderr.write(`lambdad runtime: ${err.stack || err}\n`);
        process.exit(1);
      },
    );
  }
}

// -------------------------------------------------------------------------------- main

/**
 * Layers' node_modules on the CommonJS search path (NODE_PATH), as on AWS. A sandbox that
 * cannot mount the layers at /opt names their directory in LAMBDAD_OPT_DIR.
 */
function addLayerModulePaths() {
  const opt = process.env.LAMBDAD_OPT_DIR || '/opt';
  const dir = path.join(opt, 'nodejs', 'node_modules');
  const current = (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean);
  if (current.includes(dir)) return;
  process.env.NODE_PATH = [dir, ...current].join(path.delimiter);
  require('module').Module._initPaths();
}

async function main() {
  patchConsole();
  streaming.installGlobals();
  addLayerModulePaths();
  const address = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!address) {
    process.stderr.write('lambdad runtime: AWS_LAMBDA_RUNTIME_API is not set\n');
    process.exit(2);
  }
  const api = new RuntimeApi(address);
  const runtime = new Runtime(api);
  runtime.installProcessHandlers();

  const taskRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '');
  } catch (err) {
    logError('Uncaught Exception', err);
    // The platform reports the init error; this process is done.
    runtime.crash(err, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  runtime.setHandler(handler);
  runtime.scheduleNext();
}

module.exports = { main };

if (require.main === module) {
  main();
}
