import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolResultSchema,
  ErrorCode,
  type JSONRPCMessage,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import type { Cancellation } from '../../core/cancel.js';
import { isObject, isPlainToolResult } from './jsonrpc.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  schema: z.ZodType;
  done: () => void;
}

/** Ids of the lane's requests: strings, so they never meet the SDK Client's integer ids. */
const idPrefix = 'cs-';

/**
 * Requests to an upstream past the SDK Client's Protocol layer, on the Client's own transport.
 * The Client classifies every message it receives with a zod parse before it looks up the
 * request it answers; the lane sends plain requests (no progress token) itself and picks their
 * answers off the transport by id, leaving every other message to the Client (decision 0009).
 *
 * It keeps the Client's contract for what the Forwarder sees: the result parsed against the
 * caller's schema, the upstream's error as an McpError, RequestTimeout (with a
 * `notifications/cancelled` to the upstream) on timeout or abort, ConnectionClosed when the
 * transport closes, and the transport's own error when sending fails.
 */
export class UpstreamLane {
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private closed = false;

  /** Installs itself in front of the transport's handlers, which the Client set when it connected. */
  constructor(private readonly transport: Transport) {
    const onmessage = transport.onmessage;
    const onclose = transport.onclose;
    transport.onmessage = (message, extra) => {
      if (!this.answer(message)) onmessage?.(message, extra);
    };
    transport.onclose = () => {
      this.close();
      onclose?.();
    };
  }

  request<S extends z.ZodType>(
    method: string,
    params: Record<string, unknown>,
    schema: S,
    options: { timeout: number; signal: Cancellation },
  ): Promise<z.infer<S>> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
      options.signal.throwIfAborted();
      const id = `${idPrefix}${this.next++}`;
      const signal = options.signal;
      const cancel = (reason: unknown) => {
        if (!this.pending.delete(id)) return;
        done();
        this.transport
          .send({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: id, reason: String(reason) },
          })
          .catch(() => {});
        reject(reason instanceof McpError ? reason : new McpError(ErrorCode.RequestTimeout, String(reason)));
      };
      const onAbort = () => cancel(signal.reason);
      const timer = setTimeout(
        () =>
          cancel(new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: options.timeout })),
        options.timeout,
      );
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, schema, done });
      this.transport.send({ jsonrpc: '2.0', id, method, params }).catch((error: unknown) => {
        if (!this.pending.delete(id)) return;
        done();
        reject(error);
      });
    });
  }

  /** Settles the lane's request that `message` answers; false when it answers none of them. */
  private answer(message: JSONRPCMessage): boolean {
    const m = message as Record<string, unknown>;
    const id = m.id;
    if (typeof id !== 'string' || !id.startsWith(idPrefix) || 'method' in m) return false;
    const p = this.pending.get(id);
    if (!p) return false;
    const { result, error } = m;
    // A malformed answer goes to the Client, which reports it; the request then times out, as
    // it would on the Client's own path.
    if (isObject(result)) {
      this.settle(id, p);
      // What the schema's parse would return unchanged needs no parse (see isPlainToolResult).
      if (p.schema === CallToolResultSchema && isPlainToolResult(result)) {
        p.resolve(result);
        return true;
      }
      const parsed = p.schema.safeParse(result);
      if (parsed.success) p.resolve(parsed.data);
      else p.reject(parsed.error);
      return true;
    }
    if (isObject(error) && Number.isInteger(error.code) && typeof error.message === 'string') {
      this.settle(id, p);
      p.reject(McpError.fromError(error.code as number, error.message, error.data));
      return true;
    }
    return false;
  }

  private settle(id: string, p: Pending): void {
    this.pending.delete(id);
    p.done();
  }

  private close(): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.settle(id, p);
      p.reject(new McpError(ErrorCode.ConnectionClosed, 'Connection closed'));
    }
  }
}
