import type { IncomingMessage } from 'node:http';
import { ExchangeError } from './http-transport.js';

/** The client went away before its body arrived: there is nobody left to answer. */
export class BodyAborted extends Error {}

function tooLarge(limit: number): ExchangeError {
  return new ExchangeError(
    413,
    -32600,
    `Message too large: the limit is ${limit} bytes (mcp.maxMessageBytes). Send a smaller request.`,
  );
}

/**
 * Reads a POST body as JSON, with the refusals Fastify's body parsing gave the MCP endpoints
 * before they were served ahead of it: 415 for a body that is not `application/json`, 413 past
 * `limit` (from Content-Length before reading, or while reading), and a JSON-RPC parse error for
 * text that is not JSON. A POST with no body at all is `undefined`, for the caller to refuse.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (type === undefined && !hasBody) return Promise.resolve(undefined);
  if (type === undefined || mediaType(type) !== 'application/json')
    return Promise.reject(
      new ExchangeError(
        415,
        -32600,
        'Unsupported media type: send JSON-RPC with Content-Type: application/json.',
      ),
    );
  if (length !== undefined && Number(length) > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      req.off('error', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      stop();
      reject(tooLarge(limit));
    };
    const onEnd = () => {
      stop();
      const text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)).toString(
        'utf8',
      );
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ExchangeError(400, -32700, 'Parse error: the body is not valid JSON'));
      }
    };
    // 'close' (or 'error') before 'end': the connection broke mid-body.
    const onClose = () => {
      stop();
      reject(new BodyAborted('the client closed the connection before sending its whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', onClose);
  });
}

/** `application/json; charset=utf-8` → `application/json`. */
function mediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}
