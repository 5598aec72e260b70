import type { ServerResponse } from 'node:http';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  type JSONRPCMessage,
  JSONRPCMessageSchema,
  type RequestId,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/sdk/types.js';
import { CallCancel } from '../../core/cancel.js';
import type { CallExtra } from './forward.js';
import { isObject, isProgressToken, isRequest, isResponse } from './jsonrpc.js';

/**
 * Handles one incoming request outside the SDK's Server (see `sessionLane`), or returns undefined
 * to leave it to the Server.
 */
export type Lane = (method: string, params: unknown, extra: CallExtra) => Promise<unknown> | undefined;

/** A handler's failure as a JSON-RPC error, exactly as the SDK's Protocol answers it. */
function rpcError(error: unknown) {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  return {
    code: Number.isSafeInteger(e.code) ? (e.code as number) : ErrorCode.InternalError,
    message: typeof e.message === 'string' ? e.message : 'Internal error',
    ...(e.data !== undefined ? { data: e.data } : {}),
  };
}

/** The most messages one POST may carry, as in the SDK's own transport. */
export const maxBatch = 100;

/** Comment lines on an open event stream, so proxies and clients do not time it out. */
const keepAliveMs = 15_000;

/** A refusal of the HTTP exchange itself, answered with a JSON-RPC error body. */
export class ExchangeError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks a POST body: one JSON-RPC message or a batch of them. Validation at the edge, so the
 * session's server only ever sees well-formed messages.
 */
export function parseMessages(body: unknown): JSONRPCMessage[] {
  const raw = Array.isArray(body) ? body : [body];
  if (raw.length === 0) throw new ExchangeError(400, -32600, 'Invalid Request: the batch is empty');
  if (raw.length > maxBatch)
    throw new ExchangeError(400, -32600, `Invalid Request: a batch may hold at most ${maxBatch} messages`);
  return raw.map((m) => {
    if (isPlainRequest(m)) return m;
    const parsed = JSONRPCMessageSchema.safeParse(m);
    if (!parsed.success) throw new ExchangeError(400, -32600, 'Invalid Request: not a JSON-RPC 2.0 message');
    return parsed.data;
  });
}

const requestKeys = new Set(['jsonrpc', 'id', 'method', 'params']);

/**
 * A structural check that accepts a subset of what the SDK's JSONRPCRequestSchema accepts: the
 * plain requests every call brings, without the zod parse of a four-way union (its failing
 * branches cost most). Anything it does not accept goes to the schema, so the edge accepts and
 * refuses exactly what it did; `http-transport.test.ts` holds it to the schema with fast-check.
 */
export function isPlainRequest(m: unknown): m is JSONRPCMessage {
  if (!isObject(m) || m.jsonrpc !== '2.0' || typeof m.method !== 'string') return false;
  for (const key in m) if (!requestKeys.has(key)) return false;
  if (typeof m.id !== 'string' && !Number.isSafeInteger(m.id)) return false;
  if (m.params === undefined) return true;
  if (!isObject(m.params)) return false;
  const meta = m.params._meta;
  if (meta === undefined) return true;
  if (!isObject(meta) || 'io.modelcontextprotocol/related-task' in meta) return false;
  return meta.progressToken === undefined || isProgressToken(meta.progressToken);
}

/** Checks the headers every request after initialize must carry, as the Streamable HTTP spec asks. */
export function checkHeaders(method: string, accept: string | undefined, version: string | undefined): void {
  const wants = (type: string) => accept?.includes(type) || accept?.includes('*/*');
  if (method === 'POST' && !(wants('application/json') && wants('text/event-stream')))
    throw new ExchangeError(
      406,
      -32000,
      'Not Acceptable: send Accept: application/json, text/event-stream (MCP Streamable HTTP)',
    );
  if (method === 'GET' && !wants('text/event-stream'))
    throw new ExchangeError(406, -32000, 'Not Acceptable: send Accept: text/event-stream');
  if (version !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(version))
    throw new ExchangeError(
      400,
      -32000,
      `Unsupported MCP-Protocol-Version '${version.slice(0, 40)}'; supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
    );
}

/**
 * One POST that carried requests: answered as one JSON body once every request has its response,
 * or switched to an event stream the moment something must reach the client before that (a
 * progress notification while a call waits for a reviewer).
 */
class Exchange {
  private readonly waiting: Set<RequestId>;
  private readonly answers: JSONRPCMessage[] = [];
  private streaming = false;
  private keepAlive: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    ids: RequestId[],
    private readonly headers: () => Record<string, string>,
    private readonly batch: boolean,
  ) {
    this.waiting = new Set(ids);
    res.once('close', () => this.stopKeepAlive());
  }

  /** Ends the HTTP response once every request of the exchange is answered. */
  deliver(message: JSONRPCMessage): void {
    if (isResponse(message)) this.waiting.delete(message.id);
    if (this.streaming) this.event(message);
    else if (isResponse(message)) this.answers.push(message);
    else this.startStream(message);
    if (this.waiting.size === 0) this.finish();
  }

  close(): void {
    this.stopKeepAlive();
    if (!this.res.writableEnded) this.res.end();
  }

  private startStream(first: JSONRPCMessage): void {
    this.streaming = true;
    if (this.res.destroyed) return;
    this.res.writeHead(200, { ...this.headers(), ...sseHeaders });
    for (const answer of this.answers.splice(0)) this.event(answer);
    this.event(first);
    this.keepAlive = setInterval(() => {
      if (!this.res.destroyed) this.res.write(': keep-alive\n\n');
    }, keepAliveMs);
    this.keepAlive.unref();
  }

  private finish(): void {
    this.stopKeepAlive();
    // The client went away: the answer has nowhere to go (it is recorded in the audit log anyway).
    if (this.res.writableEnded || this.res.destroyed) return;
    if (this.streaming) {
      this.res.end();
      return;
    }
    const body = JSON.stringify(this.batch ? this.answers : this.answers[0]);
    this.res.writeHead(200, { ...this.headers(), 'content-type': 'application/json' });
    this.res.end(body);
  }

  private event(message: JSONRPCMessage): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(sseEvent(message));
  }

  private stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
  }
}

const sseHeaders = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

const sseEvent = (message: JSONRPCMessage) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;

/**
 * The server side of MCP Streamable HTTP for one agent session, written straight onto Node's
 * request and response objects. It replaces the SDK's StreamableHTTPServerTransport, which
 * converts every exchange to web-standard Request/Response objects and answers every call as an
 * event stream; a CPU profile put that conversion among the gateway's largest costs per call
 * (decision 0009).
 * The SDK's Server still does the protocol; this class only moves messages, except that a plain
 * tools/call can be handed to the session's lane instead (decision 0009).
 *
 * Not resumable: a client that loses an event stream re-sends its request, as the spec allows.
 */
export class NodeStreamableTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onerror?: Transport['onerror'];
  onclose?: Transport['onclose'];

  private readonly exchanges = new Map<RequestId, Exchange>();
  /** Requests the lane is serving, by id, so a cancellation can reach them. */
  private readonly laneCalls = new Map<RequestId, CallCancel>();
  private standalone: ServerResponse | null = null;
  private closed = false;

  constructor(
    readonly sessionId: string,
    private readonly lane?: Lane,
  ) {}

  async start(): Promise<void> {}

  /** A POST's messages, already checked by `parseMessages`. */
  post(res: ServerResponse, messages: JSONRPCMessage[], batch: boolean): void {
    if (this.closed)
      throw new ExchangeError(404, -32001, 'Session not found; start a new session with initialize.');
    const requests = messages.filter(isRequest);
    if (requests.length === 0) {
      res.writeHead(202, this.headers()).end();
    } else {
      const ids = requests.map((r) => r.id);
      // An id still in flight would route two answers to one exchange.
      if (new Set(ids).size !== ids.length || ids.some((id) => this.exchanges.has(id)))
        throw new ExchangeError(
          400,
          -32600,
          'Invalid Request: a request id is already in use in this session; give each pending request its own id',
        );
      const exchange = new Exchange(res, ids, () => this.headers(), batch);
      for (const id of ids) this.exchanges.set(id, exchange);
    }
    for (const message of messages) if (!this.serveInLane(message)) this.onmessage?.(message);
  }

  /**
   * Runs a request the lane takes and answers it as the SDK's Protocol would: the result, or the
   * error's code, message and data; nothing once the client cancelled it. A cancellation of a lane
   * request is handled here, since the SDK's Server never saw that request.
   */
  private serveInLane(message: JSONRPCMessage): boolean {
    if (!this.lane) return false;
    if (!isRequest(message)) {
      const m = message as { method?: unknown; params?: { requestId?: unknown } };
      if (m.method !== 'notifications/cancelled') return false;
      const call = this.laneCalls.get(m.params?.requestId as RequestId);
      call?.abort();
      return call !== undefined;
    }
    const id = message.id;
    const abort = new CallCancel();
    const params = (message as { params?: unknown }).params;
    const handled = this.lane(message.method, params, {
      signal: abort,
      _meta: (params as { _meta?: CallExtra['_meta'] } | undefined)?._meta,
      sendNotification: (notification) =>
        this.send({ jsonrpc: '2.0', ...notification } as JSONRPCMessage, { relatedRequestId: id }),
    });
    if (!handled) return false;
    this.laneCalls.set(id, abort);
    handled
      .then(
        (result) => ({ jsonrpc: '2.0' as const, id, result }),
        (error: unknown) => ({ jsonrpc: '2.0' as const, id, error: rpcError(error) }),
      )
      .then((answer) => {
        this.laneCalls.delete(id);
        if (!abort.aborted) void this.send(answer as JSONRPCMessage);
      });
    return true;
  }

  /** The GET stream for messages not tied to a request (list-changed notifications). */
  listen(res: ServerResponse): void {
    if (this.closed)
      throw new ExchangeError(404, -32001, 'Session not found; start a new session with initialize.');
    if (this.standalone && !this.standalone.writableEnded)
      throw new ExchangeError(409, -32000, 'Conflict: this session already has an open GET event stream');
    this.standalone = res;
    res.writeHead(200, { ...this.headers(), ...sseHeaders });
    res.write(': stream open\n\n');
    const keepAlive = setInterval(() => {
      if (!res.destroyed) res.write(': keep-alive\n\n');
    }, keepAliveMs);
    keepAlive.unref();
    res.once('close', () => {
      clearInterval(keepAlive);
      if (this.standalone === res) this.standalone = null;
    });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const id = isResponse(message) ? message.id : options?.relatedRequestId;
    const exchange = id === undefined ? undefined : this.exchanges.get(id);
    if (exchange) {
      if (isResponse(message)) this.exchanges.delete(message.id);
      exchange.deliver(message);
      return;
    }
    // Not tied to an open exchange (a list change, or a late notification): the GET stream, if any.
    if (isResponse(message)) return;
    const stream = this.standalone;
    if (stream && !stream.writableEnded && !stream.destroyed) stream.write(sseEvent(message));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Held calls stop waiting for a decision nobody can receive.
    for (const call of this.laneCalls.values()) call.abort();
    this.laneCalls.clear();
    for (const exchange of new Set(this.exchanges.values())) exchange.close();
    this.exchanges.clear();
    this.standalone?.end();
    this.standalone = null;
    this.onclose?.();
  }

  private headers(): Record<string, string> {
    return { 'mcp-session-id': this.sessionId };
  }
}
