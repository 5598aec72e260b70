import { type Dispatcher, errors } from 'undici';
import type { Cancellation } from '../../core/cancel.js';

/** The response headers the transport reads; a header sent twice is kept as a list. */
export interface AnswerHeaders {
  'content-type'?: string | string[];
  'content-length'?: string | string[];
  'mcp-session-id'?: string | string[];
}

const wanted = new Set<string>(['content-type', 'content-length', 'mcp-session-id']);

/** Where a body's chunks go once someone reads it. */
export interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  /** The body was cut short: the connection failed, or the request was aborted. */
  fail(error: Error): void;
}

/** An upstream answer: status, the headers the transport reads, and the body. */
export interface Answer {
  statusCode: number;
  headers: AnswerHeaders;
  body: AnswerBody;
}

/** Past this much, a body nobody reads is not drained but its connection is closed. */
const maxDumpBytes = 128 * 1024;

/**
 * A response body that arrives before anyone reads it is held, then handed to the one reader that
 * calls `read`. Chunks go straight to the reader after that: the transport parses as they come,
 * so no backpressure is applied (its parsers bound what they keep).
 */
export class AnswerBody {
  private sink: BodySink | undefined;
  private held: Buffer[] = [];
  private state: 'open' | 'ended' | 'failed' = 'open';
  private error: Error | undefined;
  /** Destroyed by its reader: nothing more reaches the sink. */
  private detached = false;

  constructor(private readonly stop: (error: Error) => void) {}

  /** Starts reading: everything held so far, then the rest as it arrives. Once only. */
  read(sink: BodySink): void {
    if (this.sink) throw new Error('an answer body can be read once');
    this.sink = sink;
    if (this.detached) {
      sink.fail(new errors.RequestAbortedError());
      return;
    }
    const held = this.held;
    this.held = [];
    // The reader may destroy the body while it takes what was held: it then hears nothing more.
    for (const chunk of held) if (!this.detached) sink.data(chunk);
    if (this.detached) return;
    if (this.state === 'ended') sink.end();
    else if (this.state === 'failed') sink.fail(this.error as Error);
  }

  /**
   * Stops the answer: its connection is closed unless it already ended, and the reader hears
   * nothing more.
   */
  destroy(): void {
    if (this.detached) return;
    this.detached = true;
    this.held = [];
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.error = new errors.RequestAbortedError();
    this.stop(this.error);
  }

  /** Reads and drops the body so its connection goes back to the pool; a large one is cut. */
  dump(): Promise<void> {
    return new Promise((resolve) => {
      let size = 0;
      this.read({
        data: (chunk) => {
          size += chunk.length;
          if (size > maxDumpBytes) {
            this.destroy();
            resolve();
          }
        },
        end: resolve,
        fail: () => resolve(),
      });
    });
  }

  /**
   * From the handler: a chunk, then the end or a failure. A destroyed body is no longer open, so
   * none of them reaches its reader.
   */
  push(chunk: Buffer): void {
    if (this.state !== 'open') return;
    if (this.sink) this.sink.data(chunk);
    else this.held.push(chunk);
  }

  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.sink?.end();
  }

  fail(error: Error): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.error = error;
    this.sink?.fail(error);
  }
}

export interface Exchange {
  path: string;
  method: 'GET' | 'POST' | 'DELETE';
  headers: Record<string, string>;
  body?: string | undefined;
  /** Stops the request, or the reading of its answer. */
  signal: Cancellation;
}

/**
 * One HTTP exchange on an undici dispatcher, with a handler of our own in place of undici's
 * `request()`: that one parses every response header into an object, wraps the body in a Node
 * Readable and runs in an async resource, which together cost about a quarter of the client's
 * CPU per forwarded call; the transport needs three headers and the body's chunks
 * (decision 0012).
 */
export function exchange(dispatcher: Dispatcher, x: Exchange): Promise<Answer> {
  return new Promise((resolve, reject) => {
    if (x.signal.aborted) return reject(new errors.RequestAbortedError());
    let abort: ((error: Error) => void) | undefined;
    let reason: Error | undefined;
    let body: AnswerBody | undefined;
    const onAbort = () => {
      reason ??= new errors.RequestAbortedError();
      abort?.(reason);
    };
    x.signal.addEventListener('abort', onAbort);
    const settled = () => x.signal.removeEventListener('abort', onAbort);
    const handler: Dispatcher.DispatchHandler = {
      onConnect(stop) {
        abort = stop;
        if (reason) stop(reason);
      },
      onHeaders(statusCode, raw) {
        // 1xx answers (other than an upgrade) are informational: the real one follows.
        if (statusCode < 200) return true;
        body = new AnswerBody((error) => abort?.(error));
        resolve({ statusCode, headers: readHeaders(raw), body });
        return true;
      },
      onData(chunk) {
        body?.push(chunk);
        return true;
      },
      onComplete() {
        settled();
        body?.end();
      },
      onError(error) {
        settled();
        if (body) body.fail(error);
        else reject(error);
      },
    };
    try {
      dispatcher.dispatch(
        { path: x.path, method: x.method, headers: x.headers, body: x.body ?? null },
        handler,
      );
    } catch (error) {
      settled();
      reject(error);
    }
  });
}

/** The wanted headers out of undici's raw list (name, value, name, value, ...). */
function readHeaders(raw: Buffer[]): AnswerHeaders {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i] as Buffer;
    // Most names are skipped without decoding: the three start with c or m (any case) and are
    // 12 or 14 bytes long.
    const first = (key[0] as number) | 0x20;
    if ((first !== 0x63 && first !== 0x6d) || (key.length !== 12 && key.length !== 14)) continue;
    const name = key.toString('latin1').toLowerCase();
    if (!wanted.has(name)) continue;
    const value = (raw[i + 1] as Buffer).toString('latin1');
    const before = headers[name];
    headers[name] = before === undefined ? value : [...(Array.isArray(before) ? before : [before]), value];
  }
  return headers as AnswerHeaders;
}
