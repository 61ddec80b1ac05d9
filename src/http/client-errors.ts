// Requests Node itself cuts off ('clientError': the request timeout, a malformed request). While a body is still
// being read the service answers the timeout itself, in the face's error shape; otherwise it answers as Node would.
// Either way the request's log line and count say what was sent, never what the app tried to write afterwards.
import type { Server, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

interface Exchange {
  res: ServerResponse;
  /** Set while the body is being read: answers the timeout through the face's error middleware. */
  answerTimeout?: () => void;
  /** The status of the bare response written on the socket on the request's behalf, when one was. */
  cutOffWith?: number;
}

/** The request each connection is serving; a connection serves one at a time. */
const exchanges = new WeakMap<Duplex, Exchange>();

/** Called by the request observer: from now until its response closes, `res` is the one its connection serves. */
export function trackExchange(socket: Duplex, res: ServerResponse): void {
  exchanges.set(socket, { res });
  res.once('close', () => {
    if (exchanges.get(socket)?.res === res) exchanges.delete(socket);
  });
}

/**
 * While a request's body is read, `answer` is how a request timeout is answered (the face's 408); returns the
 * function that ends this, to be called once the body is read or refused.
 */
export function onRequestTimeout(socket: Duplex, res: ServerResponse, answer: () => void): () => void {
  const exchange = exchanges.get(socket);
  if (exchange?.res !== res) return () => undefined;
  exchange.answerTimeout = answer;
  return () => {
    if (exchange.answerTimeout === answer) delete exchange.answerTimeout;
  };
}

/** The status of the bare response the server wrote for `res` when Node cut its request off, if it did. */
export function cutOffStatus(socket: Duplex, res: ServerResponse): number | undefined {
  const exchange = exchanges.get(socket);
  return exchange?.res === res ? exchange.cutOffWith : undefined;
}

/** Node's own answers to a request it cannot serve (lib/_http_server.js), keyed by the error's code. */
const NODE_ANSWERS: Record<string, number> = {
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
};

/**
 * Handles the server's 'clientError'. A request timeout while a body is being read is answered by the face (408 in
 * its shape, then the connection is closed); anything else as Node does by default: a bare status line when nothing
 * of a response was sent yet, then the connection is destroyed.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const exchange = exchanges.get(socket);
    const answer = exchange?.answerTimeout;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && answer !== undefined && !exchange!.res.headersSent) {
      delete exchange!.answerTimeout;
      answer();
      return;
    }
    if (socket.writable && (exchange === undefined || !exchange.res.headersSent)) {
      const status = NODE_ANSWERS[error.code ?? ''] ?? 400;
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
      if (exchange !== undefined) exchange.cutOffWith = status;
    }
    socket.destroy(error);
  });
}
