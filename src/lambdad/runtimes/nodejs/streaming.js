/**
 * Response streaming for lambdad's Node.js runtime (bootstrap.js): the `awslambda` global
 * with `streamifyResponse(handler)` and `HttpResponseStream.from(stream, prelude)`, and the
 * invocation of a streaming handler, as in AWS's Node.js runtime.
 *
 * A streaming handler is called as `handler(event, responseStream, context)` and must
 * return a promise. `responseStream` is a Writable whose bytes go to the Runtime API as
 * they are written: one POST of /invocation/<id>/response on a connection of its own,
 * with `Lambda-Runtime-Function-Response-Mode: streaming` and chunked transfer encoding,
 * opened by the first write (or the end), so that `setContentType` may come before.
 * The invocation is over once the stream has ended and the Runtime API has answered;
 * an error (a thrown handler, a rejected promise) ends the stream with the trailers
 * `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` (base64
 * of the error document). `HttpResponseStream.from` makes the stream an HTTP response
 * for function URLs: content type `application/vnd.awslambda.http-integration-response`,
 * and the JSON prelude (statusCode, headers, cookies) then 8 NUL bytes before the body.
 */

'use strict';

const net = require('net');
const { Writable } = require('stream');

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const ERROR_TYPE_TRAILER = 'Lambda-Runtime-Function-Error-Type';
const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';

class InvalidStreamingOperation extends Error {}
Object.defineProperty(InvalidStreamingOperation.prototype, 'name', {
  value: 'Runtime.InvalidStreamingOperation',
  writable: true,
  configurable: true,
});

// ------------------------------------------------------------------------- the globals

function streamifyResponse(handler, options) {
  handler[HANDLER_STREAMING] = STREAM_RESPONSE;
  if (options && Number.isInteger(options.highWaterMark) && options.highWaterMark > 0) {
    handler[HANDLER_HIGHWATERMARK] = options.highWaterMark;
  }
  return handler;
}

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION);
    // JSON has no NUL byte, so the 8 NULs after it end the prelude unambiguously.
    const metadata = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

function installGlobals() {
  globalThis.awslambda = Object.assign(globalThis.awslambda || {}, {
    streamifyResponse,
    HttpResponseStream,
  });
}

function isStreaming(handler) {
  return handler[HANDLER_STREAMING] === STREAM_RESPONSE;
}

// ---------------------------------------------------------------------- the stream

/** The header-safe text of a trailer value. */
function safe(value) {
  return String(value).replace(/[^\t\x20-\x7e]/g, '');
}

/**
 * A Writable that posts its bytes to the Runtime API as chunks. `done` settles once the
 * Runtime API has answered the whole POST (the invocation is then over).
 */
class ResponseStream extends Writable {
  constructor(hostname, port, address, requestId, highWaterMark) {
    super(highWaterMark ? { highWaterMark } : {});
    this.hostname = hostname;
    this.port = port;
    this.address = address;
    this.requestId = requestId;
    this.contentType = DEFAULT_CONTENT_TYPE;
    this.socket = null;
    this._onBeforeFirstWrite = null;
    this.failed = false;
    this.ended = false; // the last chunk was sent
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
  }

  setContentType(contentType) {
    if (this.socket !== null) {
      throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    }
    this.contentType = contentType;
  }

  /** Open the POST (once): its head, and the prelude an HttpResponseStream writes first. */
  open() {
    if (this.socket !== null) return;
    const socket = net.connect({ host: this.hostname, port: this.port });
    socket.setNoDelay(true);
    this.socket = socket;
    let answer = '';
    socket.on('data', (data) => {
      answer += data.toString('latin1');
      if (answer.includes('\r\n\r\n')) {
        socket.destroy();
        const status = Number(answer.split(' ', 2)[1]);
        if (status === 202) this.resolveDone();
        else this.rejectDone(new Error(`the Runtime API answered ${answer.split('\r\n')[0]}`));
      }
    });
    socket.on('error', (err) => this.rejectDone(err));
    socket.on('close', () => this.rejectDone(new Error('the Runtime API closed the stream')));
    const id = encodeURIComponent(this.requestId);
    socket.write(
      `POST /2018-06-01/runtime/invocation/${id}/response HTTP/1.1\r\n` +
        `Host: ${this.address}\r\n` +
        'Lambda-Runtime-Function-Response-Mode: streaming\r\n' +
        'Transfer-Encoding: chunked\r\n' +
        `Trailer: ${ERROR_TYPE_TRAILER}, ${ERROR_BODY_TRAILER}\r\n` +
        `Content-Type: ${safe(this.contentType)}\r\n\r\n`,
      'latin1',
    );
    const before = this._onBeforeFirstWrite;
    if (typeof before === 'function') {
      before((data) => this.sendChunk(typeof data === 'string' ? Buffer.from(data) : data));
    }
  }

  sendChunk(data, callback) {
    if (data.length === 0) {
      if (callback) callback();
      return;
    }
    this.socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
    this.socket.write(data);
    this.socket.write('\r\n', 'latin1', callback);
  }

  write(chunk, encoding, callback) {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    return super.write(chunk, encoding, callback);
  }

  _write(chunk, _encoding, callback) {
    if (this.failed) {
      callback();
      return;
    }
    this.open();
    this.sendChunk(chunk, callback);
  }

  _final(callback) {
    if (this.failed) {
      callback();
      return;
    }
    this.ended = true;
    this.open();
    this.socket.write('0\r\n\r\n', 'latin1', callback);
  }

  /** End the stream with an error, reported in the trailers. */
  fail(response) {
    // Once the last chunk is out the response is complete: a later error is only logged.
    if (this.failed || this.ended) return;
    this.failed = true;
    const body = Buffer.from(JSON.stringify(response)).toString('base64');
    const trailers =
      `0\r\n${ERROR_TYPE_TRAILER}: ${safe(response.errorType)}\r\n` +
      `${ERROR_BODY_TRAILER}: ${body}\r\n\r\n`;
    this.open();
    // Whatever the Writable still holds is dropped: the error ends the response now.
    this.socket.write(trailers, 'latin1');
  }
}

// ---------------------------------------------------------------------- the invocation

/**
 * Run one invocation of a streaming handler; `finish(error)` is called once it is over
 * (`error`: the Runtime API could not be told, the process must end).
 */
function invokeStreaming(api, handler, requestId, event, context, errorResponse, logError, finish) {
  const stream = new ResponseStream(
    api.hostname,
    api.port,
    `${api.hostname}:${api.port}`,
    requestId,
    handler[HANDLER_HIGHWATERMARK],
  );
  const fail = (err) => {
    logError('Invoke Error', err);
    stream.fail(errorResponse(err));
  };
  let result;
  try {
    result = handler(event, stream, context);
    if (!result || typeof result.then !== 'function') {
      throw new Error('Streaming does not support non-async handlers.');
    }
  } catch (err) {
    fail(err);
    result = null;
  }
  if (result !== null) {
    result.then((value) => {
      if (value !== undefined) console.warn('Streaming handlers ignore return values.');
    }, fail);
  }
  stream.on('error', fail);
  stream.done.then(
    () => finish(null),
    (err) => finish(err),
  );
}

module.exports = { installGlobals, isStreaming, invokeStreaming };
