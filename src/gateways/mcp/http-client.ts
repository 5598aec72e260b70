import { STATUS_CODES } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Transport, TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';
import { Pool } from 'undici';
import { CallCancel } from '../../core/cancel.js';
import { type Answer, exchange } from './http-answer.js';
import { isMessage, isRequest, isResponse } from './jsonrpc.js';
import { hideable, redact, withParts } from './secrets.js';
import { SseParser, TooLargeError } from './sse.js';

export interface HttpClientTransportOptions {
  /** Sent with every request (credentials): never logged, never put in an error message. */
  headers?: Record<string, string>;
  /** Largest response body or single event accepted from the upstream. */
  maxMessageBytes?: number;
  /** Longest wait for the DELETE that ends the session on close. */
  closeTimeoutMs?: number;
  /** First delay before the server-message stream is reopened; grows 1.5x per failure up to 30 s. */
  reconnectMs?: number;
}

/** An HTTP answer the transport cannot use. Names the status only: no URL, no header. */
export class UpstreamHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamHttpError';
  }
}

/** The upstream no longer knows our session (404 with a session id): the connection must be rebuilt. */
export class SessionLostError extends UpstreamHttpError {
  constructor() {
    super(404, 'the upstream no longer knows this MCP session (HTTP 404); the gateway reconnects');
    this.name = 'SessionLostError';
  }
}

const defaultMaxBytes = 16 * 1024 * 1024;
const maxReconnectMs = 30_000;
/** Tries in a row, without a new event, to fetch a request's answer after its stream ended early. */
const maxResumes = 3;

interface InFlight {
  /** The answer to the latest request sent under this handle. */
  response: Promise<Answer>;
  /** Aborts the request, or the reading of its answer (an AbortController costs more, 0012). */
  abort: CallCancel;
  /** Set when the request was dropped on purpose (cancelled or closing): its end is not an error. */
  dropped: boolean;
}

/**
 * The gateway's client side of MCP Streamable HTTP (revisions 2025-03-26 to 2025-11-25) on an
 * undici connection pool. The SDK's StreamableHTTPClientTransport runs on fetch and web streams,
 * which cost more CPU than everything else in a forwarded call, and node:http's request and
 * response objects cost more than undici's `request` (decision 0012); this one moves the same
 * messages with the least of either. The SDK Client above it still does the protocol (initialize, ids,
 * timeouts, cancellation).
 *
 * - Every message is a POST; the answer is 202 (nothing to deliver), one JSON message or batch,
 *   or an event stream that may carry notifications and server requests before the response.
 *   `send` settles when that answer is fully read, and fails when the stream ends without the
 *   response, so the caller learns of a broken upstream at once instead of at its timeout. A
 *   stream whose events carry ids that ends before the response is resumed with GET and
 *   Last-Event-ID.
 * - After `notifications/initialized` a GET stream carries server-initiated messages; 405 means
 *   the server has none; it is reopened with backoff (and Last-Event-ID) when it drops.
 * - A 404 while holding a session means the upstream forgot it (restart): the transport closes,
 *   so the owner reconnects with a new session.
 * - Sending `notifications/cancelled` drops the open POST of that request, so an abandoned call
 *   does not keep a socket forever.
 * - No redirect is followed (the configured headers hold credentials).
 */
export class HttpClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private session: string | undefined;
  private protocolVersion: string | undefined;
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private readonly maxBytes: number;
  private readonly inflight = new Set<InFlight>();
  /** Open POSTs by JSON-RPC request id, to drop one when its request is cancelled. */
  private readonly byId = new Map<RequestId, InFlight>();
  private stream: InFlight | null = null;
  private streamEventId: string | undefined;
  private streamRetryMs: number | undefined;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private started = false;
  private closed = false;
  private sessionLost = false;

  constructor(
    url: URL,
    private readonly options: HttpClientTransportOptions = {},
  ) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new Error(`an MCP upstream URL must be http:// or https://, not ${url.protocol}//; fix its url`);
    // No timeouts of the pool's own: an event stream may stay quiet for as long as the upstream
    // likes, and a request's wait is bounded by the SDK's timeout, which drops it (see `drop`).
    this.pool = new Pool(url.origin, { headersTimeout: 0, bodyTimeout: 0 });
    this.path = `${url.pathname}${url.search}`;
    this.headers = {};
    // Credentials in the URL are sent as Basic auth, as node:http does, unless a header is set.
    if (url.username)
      this.headers.authorization = `Basic ${Buffer.from(
        `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
      ).toString('base64')}`;
    for (const [k, v] of Object.entries(options.headers ?? {})) this.headers[k.toLowerCase()] = v;
    this.secrets = hideable(withParts(Object.values(this.headers)));
    this.maxBytes = options.maxMessageBytes ?? defaultMaxBytes;
  }

  get sessionId(): string | undefined {
    return this.session;
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('HttpClientTransport already started');
    this.started = true;
  }

  async send(message: JSONRPCMessage, _options?: TransportSendOptions): Promise<void> {
    if (this.closed) throw new Error('the connection to the MCP upstream is closed');
    const body = JSON.stringify(message);
    const headers = this.postHeaders();
    const id = isRequest(message) ? message.id : undefined;
    const hadSession = this.session !== undefined;
    const flight = this.open('POST', headers, body);
    if (id !== undefined) this.byId.set(id, flight);
    try {
      const res = await flight.response;
      const sid = res.headers['mcp-session-id'];
      if (typeof sid === 'string' && sid) this.session = sid;
      const status = res.statusCode;
      if (status === 202) {
        discard(res);
        if (isInitialized(message)) this.openStream(0);
        return;
      }
      if (status < 200 || status >= 300) throw await this.failure(res, status, hadSession);
      if (id === undefined) {
        discard(res);
        return;
      }
      const type = mediaType(res.headers['content-type']);
      if (type === 'application/json') return await this.deliver(await this.body(res));
      if (type === 'text/event-stream') return await this.events(res, flight, id);
      discard(res);
      throw new UpstreamHttpError(status, `the upstream answered with an unexpected content type (${type})`);
    } catch (error) {
      if (flight.dropped) return;
      throw this.clean(error);
    } finally {
      this.inflight.delete(flight);
      if (id !== undefined && this.byId.get(id) === flight) this.byId.delete(id);
      if (isCancellation(message)) this.drop(message.params?.requestId as RequestId | undefined);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const flight of this.inflight) {
      flight.dropped = true;
      flight.abort.abort();
    }
    this.inflight.clear();
    this.byId.clear();
    this.stream = null;
    // The SDK rejects every pending request with "connection closed" from here.
    this.onclose?.();
    if (this.session && !this.sessionLost) await this.terminate().catch(() => {});
    await this.pool.destroy().catch(() => {});
  }

  /** A POST's headers, built again only when the session or protocol version changes. */
  private postHeaders(): Record<string, string> {
    const { session, protocolVersion } = this;
    const cached = this.posting;
    if (cached && cached.session === session && cached.protocolVersion === protocolVersion)
      return cached.headers;
    const headers = this.requestHeaders();
    headers['content-type'] = 'application/json';
    headers.accept = 'application/json, text/event-stream';
    // Frozen: the same object goes with every POST, so nothing may change it on the way.
    this.posting = { session, protocolVersion, headers: Object.freeze(headers) };
    return headers;
  }

  private posting:
    | { session: string | undefined; protocolVersion: string | undefined; headers: Record<string, string> }
    | undefined;

  /** Headers common to every request: the configured ones, then the session's. */
  private requestHeaders(): Record<string, string> {
    const headers: Record<string, string> = { ...this.headers };
    if (this.session) headers['mcp-session-id'] = this.session;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  /** Sends a request; `flight` continues an earlier one (a resumed answer) under the same handle. */
  private open(
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body?: string,
    flight?: InFlight,
  ): InFlight {
    const abort = flight?.abort ?? new CallCancel();
    const response = exchange(this.pool, { path: this.path, method, headers, body, signal: abort });
    const handle = flight ?? { response, abort, dropped: false };
    handle.response = response;
    // Errors are read where the answer is awaited; this keeps an abort from being unhandled (a
    // dropped request's answer may never be awaited), which would end the gateway.
    handle.response.catch(ignore);
    this.inflight.add(handle);
    return handle;
  }

  /** Reads a whole body, refusing one larger than the bound. */
  private body(res: Answer, max = this.maxBytes): Promise<string> {
    const declared = Number(res.headers['content-length']);
    if (declared > max) {
      res.body.destroy();
      return Promise.reject(tooLarge(max));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.body.read({
        data: (chunk) => {
          size += chunk.length;
          if (size > max) {
            res.body.destroy();
            reject(tooLarge(max));
            return;
          }
          chunks.push(chunk);
        },
        end: () =>
          resolve(
            chunks.length === 1
              ? (chunks[0] as Buffer).toString('utf8')
              : Buffer.concat(chunks).toString('utf8'),
          ),
        // Whatever cut the body short, the caller is told that it was cut.
        fail: () => reject(cut()),
      });
    });
  }

  /** Delivers a JSON body: one message or a batch. */
  private deliver(text: string): Promise<void> {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new Error('the upstream answered with malformed JSON');
    }
    const messages = Array.isArray(value) ? value : [value];
    for (const m of messages)
      if (!isMessage(m)) throw new Error('the upstream answered with a non-JSON-RPC body');
    const inbox = this.inbox();
    inbox.take(messages as JSONRPCMessage[]);
    return inbox.idle();
  }

  /**
   * Reads a POST's event stream; it is the answer to request `id` and must contain its response.
   * An upstream that gave its events ids may end the stream early (2025-11-25 polling, or a drop):
   * the answer is then fetched with GET and Last-Event-ID, as the SDK client does, a few times.
   */
  private async events(res: Answer, flight: InFlight, id: RequestId): Promise<void> {
    let answered = false;
    const seen = (message: JSONRPCMessage) => {
      if (isResponse(message) && message.id === id) answered = true;
    };
    let read = await this.settle(this.readStream(res, seen));
    let lastId = read.parser?.lastEventId;
    let retryMs = read.parser?.retryMs;
    for (let attempt = 0; !answered && lastId !== undefined && attempt < maxResumes; attempt++) {
      // An oversized event would be replayed as it was; a forgotten session has no answer to give.
      if (read.error instanceof TooLargeError || read.error instanceof SessionLostError) break;
      const delay = retryMs ?? (this.options.reconnectMs ?? 1000) * 1.5 ** attempt;
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      if (flight.dropped || this.closed) return;
      const headers = this.requestHeaders();
      headers.accept = 'text/event-stream';
      headers['last-event-id'] = lastId;
      read = await this.settle(
        this.open('GET', headers, undefined, flight).response.then(async (again) => {
          const status = again.statusCode;
          if (status < 200 || status >= 300) throw await this.failure(again, status, true);
          if (mediaType(again.headers['content-type']) !== 'text/event-stream') {
            discard(again);
            throw new UpstreamHttpError(status, 'the upstream answered a resumed stream without events');
          }
          return this.readStream(again, seen);
        }),
      );
      if (read.parser?.lastEventId !== undefined && read.parser.lastEventId !== lastId) attempt = -1;
      lastId = read.parser?.lastEventId ?? lastId;
      retryMs = read.parser?.retryMs ?? retryMs;
    }
    if (answered || flight.dropped) return;
    throw read.error ?? new Error('the upstream ended the event stream before answering the request');
  }

  /** A stream read's outcome without throwing: its parser (for the ids seen) and its error. */
  private settle(reading: Promise<SseParser>): Promise<{ parser?: SseParser; error?: unknown }> {
    return reading.then(
      (parser) => ({ parser }),
      (error: Error & { parser?: SseParser }) => ({ parser: error.parser, error }),
    );
  }

  /**
   * A parser that collects each `message` event into `out`; one that is not JSON-RPC goes to
   * onerror and is skipped.
   */
  private parser(out: JSONRPCMessage[]): SseParser {
    return new SseParser((event) => {
      // An event without data is a priming event (an id to resume from) or a keep-alive.
      if (event.event !== 'message' || event.data === '') return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        this.onerror?.(new Error('the upstream sent an event that is not JSON'));
        return;
      }
      if (!isMessage(message)) {
        this.onerror?.(new Error('the upstream sent an event that is not a JSON-RPC message'));
        return;
      }
      out.push(message);
    }, this.maxBytes);
  }

  /**
   * Feeds an event stream to a parser until it ends, handing its messages to the SDK in order;
   * `seen` looks at each first. Settles once all are delivered; an oversized event drops the stream.
   */
  private readStream(res: Answer, seen?: (message: JSONRPCMessage) => void): Promise<SseParser> {
    const out: JSONRPCMessage[] = [];
    const parser = this.parser(out);
    const inbox = this.inbox();
    // Chunks may split a character; the decoder holds its first bytes until the rest arrive.
    const utf8 = new StringDecoder('utf8');
    return new Promise<void>((resolve, reject) => {
      res.body.read({
        data: (chunk) => {
          try {
            parser.push(utf8.write(chunk));
          } catch (error) {
            res.body.destroy();
            reject(error);
          }
          if (out.length === 0) return;
          const messages = out.splice(0);
          if (seen) for (const m of messages) seen(m);
          inbox.take(messages);
        },
        end: resolve,
        fail: () => reject(cut()),
      });
    }).then(
      () => inbox.idle().then(() => parser),
      (error: unknown) =>
        inbox.idle().then(() => {
          throw Object.assign(error as Error, { parser });
        }),
    );
  }

  private inbox(): Inbox {
    return new Inbox(
      (message) => this.onmessage?.(message),
      (error) => this.onerror?.(error),
    );
  }

  /** Opens (or reopens) the GET stream of server-initiated messages. */
  private openStream(attempt: number): void {
    if (this.closed || this.stream) return;
    const headers = this.requestHeaders();
    headers.accept = 'text/event-stream';
    if (this.streamEventId !== undefined) headers['last-event-id'] = this.streamEventId;
    const flight = this.open('GET', headers);
    this.stream = flight;
    let failures = attempt;
    const ended = (error: unknown, retry: boolean) => {
      this.inflight.delete(flight);
      if (this.stream === flight) this.stream = null;
      if (flight.dropped || this.closed) return;
      if (error) this.onerror?.(this.clean(error));
      if (retry) this.reopen(failures);
    };
    flight.response.then(
      async (res) => {
        const status = res.statusCode;
        if (status === 405) {
          discard(res);
          return ended(null, false);
        }
        if (status < 200 || status >= 300) {
          // A session the upstream forgot closes the transport (in failure); other 4xx will not heal.
          const error = await this.failure(res, status, true);
          return ended(error, status >= 500 || status === 409 || status === 429);
        }
        if (mediaType(res.headers['content-type']) !== 'text/event-stream') {
          discard(res);
          return ended(
            new UpstreamHttpError(status, 'the upstream answered the GET stream without events'),
            false,
          );
        }
        failures = 0;
        const keep = (parser: SseParser | undefined) => {
          if (parser?.lastEventId !== undefined) this.streamEventId = parser.lastEventId;
          if (parser?.retryMs !== undefined) this.streamRetryMs = parser.retryMs;
        };
        await this.readStream(res).then(
          (parser) => {
            keep(parser);
            ended(null, true);
          },
          (error: Error & { parser?: SseParser }) => {
            keep(error.parser);
            ended(error, true);
          },
        );
      },
      (error) => ended(error, true),
    );
  }

  private reopen(attempt: number): void {
    if (this.closed || this.reconnectTimer) return;
    const delay =
      this.streamRetryMs ?? Math.min(maxReconnectMs, (this.options.reconnectMs ?? 1000) * 1.5 ** attempt);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.openStream(attempt + 1);
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Drops the open POST of a cancelled request: its answer is no longer wanted. */
  private drop(id: RequestId | undefined): void {
    if (id === undefined) return;
    const flight = this.byId.get(id);
    if (!flight) return;
    flight.dropped = true;
    flight.abort.abort();
  }

  /**
   * The error for a non-2xx answer: the status, and the upstream's JSON-RPC error message when it
   * sent one. A 404 on a session we hold means it is gone: the transport closes.
   */
  private async failure(res: Answer, status: number, hadSession: boolean): Promise<Error> {
    const detail = await this.body(res, 65_536).then(jsonRpcErrorMessage, () => undefined);
    if (status === 404 && hadSession && this.session) {
      this.sessionLost = true;
      // After the caller has seen this request's error, so it reads "session lost", not "closed".
      setImmediate(() => void this.close());
      return new SessionLostError();
    }
    const reason =
      status === 401 || status === 403 ? ': check the credentials configured for this upstream' : '';
    const redirect =
      status >= 300 && status < 400 ? ': redirects are not followed, configure the final URL' : '';
    const said = detail ? ` (${detail})` : '';
    return new UpstreamHttpError(
      status,
      `the upstream answered HTTP ${status} ${STATUS_CODES[status] ?? ''}`.trimEnd() +
        said +
        reason +
        redirect,
    );
  }

  /** Ends the session on the upstream (best effort, bounded): it need not wait for it to expire. */
  private async terminate(): Promise<void> {
    const res = await this.pool.request({
      path: this.path,
      method: 'DELETE',
      headers: this.requestHeaders(),
      signal: AbortSignal.timeout(this.options.closeTimeoutMs ?? 2000),
    });
    await res.body.dump();
  }

  /** Takes configured header values out of an error's text (defence in depth: none should be in it). */
  private clean(error: unknown): Error {
    const e = error instanceof Error ? error : new Error(String(error));
    const text = redact(e.message, this.secrets);
    if (text !== e.message) {
      e.message = text;
      e.stack = `${e.name}: ${text}`;
    }
    return e;
  }
}

function ignore(): void {}

/** Reads and drops a body nobody needs, so its connection goes back to the pool. */
function discard(res: Answer): void {
  void res.body.dump();
}

function isInitialized(message: JSONRPCMessage): boolean {
  return (message as { method?: unknown }).method === 'notifications/initialized';
}

function isCancellation(
  message: JSONRPCMessage,
): message is JSONRPCMessage & { params?: { requestId?: unknown } } {
  return (message as { method?: unknown }).method === 'notifications/cancelled';
}

function mediaType(value: string | string[] | undefined): string {
  const header = Array.isArray(value) ? value[0] : value;
  if (!header) return '(none)';
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
}

/** The message of a JSON-RPC error body, shortened: the upstream's own words about what it refused. */
function jsonRpcErrorMessage(text: string): string | undefined {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? message.slice(0, 200) : undefined;
  } catch {
    return undefined;
  }
}

function tooLarge(max: number): Error {
  return new TooLargeError('an answer', max);
}

function cut(): Error {
  return new Error('the upstream closed the connection before its answer was complete');
}

/**
 * Hands one stream's messages to the SDK in order. The SDK runs a notification's handler a
 * microtask after delivery but settles a response at once, so a progress notification and the
 * result delivered in one turn of the event loop would reach the caller result first, and the
 * progress would be dropped as belonging to no request. A message that arrives in the same turn
 * as the one before it (one chunk of several messages, or several chunks parsed from one read of
 * the socket) therefore waits for the next turn; the usual lone message goes straight through.
 */
class Inbox {
  private readonly queue: JSONRPCMessage[] = [];
  private busy = false;
  /** A message was delivered in this turn, and the microtasks it started have not run yet. */
  private warm = false;
  private done: Promise<void> = Promise.resolve();
  private readonly cool = () => {
    this.warm = false;
  };

  constructor(
    private readonly deliver: (message: JSONRPCMessage) => void,
    private readonly failed: (error: Error) => void,
  ) {}

  take(messages: JSONRPCMessage[]): void {
    if (!this.busy && !this.warm && messages.length === 1) {
      this.one(messages[0] as JSONRPCMessage);
      return;
    }
    this.queue.push(...messages);
    if (this.busy) return;
    this.busy = true;
    this.done = this.drain();
  }

  /** Settles once everything taken so far has been delivered. */
  idle(): Promise<void> {
    return this.done;
  }

  private async drain(): Promise<void> {
    try {
      for (let m = this.queue.shift(); m; m = this.queue.shift()) {
        if (this.warm) await new Promise((resolve) => setImmediate(resolve));
        this.one(m);
      }
    } finally {
      this.busy = false;
    }
  }

  private one(message: JSONRPCMessage): void {
    this.warm = true;
    try {
      this.deliver(message);
    } catch (error) {
      this.failed(error instanceof Error ? error : new Error(String(error)));
    }
    // Queued after the microtasks the delivery started, so it runs once they have.
    queueMicrotask(this.cool);
  }
}
