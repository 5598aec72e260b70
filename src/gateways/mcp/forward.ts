import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  ErrorCode,
  McpError,
  type ProgressToken,
  type Request,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import type { z } from 'zod';
import { asAbortSignal, type Cancellation } from '../../core/cancel.js';
import type { Upstream } from './upstream.js';
import { describe, unavailable } from './upstream.js';

/**
 * What a handler needs of the request it serves: the part of the SDK's RequestHandlerExtra the
 * gateway uses, so the transport's tools/call lane (see NodeStreamableTransport) can supply it too.
 */
export interface CallExtra {
  signal: Cancellation;
  _meta?: { progressToken?: ProgressToken | undefined } | undefined;
  sendNotification(notification: ServerNotification): Promise<void>;
}

/** Progress notifications to the agent, when it asked for them with a progress token. */
export function progressRelay(extra: CallExtra) {
  const token = extra._meta?.progressToken;
  if (token === undefined) return undefined;
  return (step: number, message: string) =>
    extra.sendNotification({
      method: 'notifications/progress',
      params: { progressToken: token, progress: step, message },
    });
}

/**
 * Sends requests to the upstream on behalf of an agent session: bounded by the upstream timeout,
 * cancelled when the agent cancels, progress relayed back, and every failure turned into a
 * JSON-RPC error that names the upstream but none of its configuration.
 */
export class Forwarder {
  constructor(
    private readonly upstream: Upstream,
    private readonly timeoutMs: number,
  ) {}

  async request<S extends z.ZodType>(
    request: Pick<Request, 'method' | 'params'>,
    schema: S,
    extra: CallExtra,
  ): Promise<z.infer<S>> {
    const client = await this.upstream.connected();
    const relay = progressRelay(extra);
    const { _meta, ...params } = (request.params ?? {}) as Record<string, unknown> & { _meta?: unknown };
    // A request without progress takes the lane; the Client routes progress notifications.
    const lane = relay ? undefined : this.upstream.lane(client);
    const options = { timeout: this.timeoutMs, signal: extra.signal };
    try {
      if (lane) return await lane.request(request.method, params, schema, options);
      return (await client.request({ method: request.method, params } as never, schema as never, {
        ...options,
        signal: asAbortSignal(options.signal),
        ...(relay ? { onprogress: (p) => void relay(p.progress, p.message ?? '').catch(() => {}) } : {}),
      })) as z.infer<S>;
    } catch (error) {
      const failure = this.failure(error, client);
      const message = this.upstream.redact(failure.message.replace(/^MCP error -?\d+: /, ''));
      throw new McpError(failure.code, message, failure.data);
    }
  }

  private failure(error: unknown, client: Client): McpError {
    const name = this.upstream.name;
    if (error instanceof McpError) {
      if (error.code === ErrorCode.RequestTimeout)
        return new McpError(
          ErrorCode.InternalError,
          `The MCP server '${name}' did not answer within ${Math.round(this.timeoutMs / 1000)}s; the gateway stopped waiting.`,
        );
      if (error.code === ErrorCode.ConnectionClosed) {
        this.upstream.reset(client);
        return unavailable(name, 'its connection closed during the call (it is being restarted)');
      }
      // The upstream's own JSON-RPC error (unknown tool, bad params): pass it on as it is.
      return error;
    }
    // A transport failure (refused connection, dropped session): reconnect on next use.
    this.upstream.reset(client);
    return unavailable(name, `the call failed (${describe(error)})`);
  }
}
