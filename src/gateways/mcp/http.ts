import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { isInitializeRequest, type JSONRPCMessage, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CountersignError, isCountersignError } from '../../core/errors.js';
import type { Authenticator, Caller } from '../../service/auth.js';
import {
  checkHeaders,
  ExchangeError,
  type Lane,
  NodeStreamableTransport,
  parseMessages,
} from './http-transport.js';
import type { SessionCaller } from './session.js';

/** What the HTTP front needs from the gateway: its upstream names and a server per session. */
export interface McpHttpHost {
  has(upstream: string): boolean;
  /** Connects the upstream if needed, then builds the session's server (and its tools/call lane). */
  openSession(upstream: string, caller: SessionCaller): Promise<{ server: Server; lane?: Lane }>;
  closeSession(upstream: string, server: Server): void;
}

export interface McpHttpOptions {
  host: McpHttpHost;
  authenticator: Authenticator;
  maxMessageBytes: number;
  /** Sessions one actor may hold open at once; the oldest is closed beyond it. */
  maxSessionsPerActor?: number;
}

interface Session {
  transport: NodeStreamableTransport;
  server: Server;
  actorId: string;
  upstream: string;
}

/** A JSON-RPC error with no request id, the body of every HTTP-level refusal. */
function rpcErrorBody(code: number, message: string) {
  return { jsonrpc: '2.0', id: null, error: { code, message } };
}

/** A JSON-RPC error sent as the HTTP body, for clients that only speak MCP. */
function rpcError(reply: FastifyReply, status: number, code: number, message: string) {
  return reply.code(status).type('application/json').send(rpcErrorBody(code, message));
}

class ParseError extends Error {}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const [scheme, token] = header.split(' ', 2);
  return scheme?.toLowerCase() === 'bearer' ? token?.trim() : undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    mcpCaller?: Extract<Caller, { kind: 'actor' }>;
  }
}

/**
 * Serves every upstream at `/mcp/NAME` over Streamable HTTP. The agent is authenticated before the
 * body is read; a session belongs to the actor that opened it and is invisible to any other.
 */
export function mcpHttpPlugin(options: McpHttpOptions) {
  const sessions = new Map<string, Session>();
  const maxPerActor = options.maxSessionsPerActor ?? 64;

  const plugin = async (app: FastifyInstance) => {
    // Our own body parser: a malformed body is a JSON-RPC parse error, not an HTTP problem document.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: options.maxMessageBytes },
      (_request, body, done) => {
        try {
          done(null, JSON.parse(body as string));
        } catch {
          done(new ParseError('Parse error: the body is not valid JSON'), undefined);
        }
      },
    );
    app.setErrorHandler((error: FastifyError, request, reply) => errorReply(error, request, reply, options));

    app.addHook('onRequest', async (request) => {
      const caller = await options.authenticator.authenticate(bearer(request));
      if (caller.kind !== 'actor')
        throw new CountersignError(
          'CS_ERR_FORBIDDEN',
          'MCP endpoints are for agents; use an agent key, not a reviewer token',
        );
      request.mcpCaller = caller;
    });

    const handler = async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
      const name = request.params.name;
      if (!options.host.has(name))
        return rpcError(reply, 404, -32601, `No MCP server named '${name}' is configured on this gateway.`);
      const caller = request.mcpCaller as Extract<Caller, { kind: 'actor' }>;
      const header = (h: string) => {
        const v = request.headers[h];
        return typeof v === 'string' ? v : undefined;
      };
      const sessionId = header('mcp-session-id');
      const messages = request.method === 'POST' ? parseMessages(request.body) : [];
      // The schema check only for a message that names the method: it runs on every POST.
      const initialize = messages.find(
        (m) => 'method' in m && m.method === 'initialize' && isInitializeRequest(m),
      );
      let session: Session | undefined;
      if (sessionId !== undefined) {
        session = sessions.get(sessionId);
        // Another actor's session is reported exactly like an unknown one.
        if (!session || session.actorId !== caller.actor.id || session.upstream !== name)
          return rpcError(reply, 404, -32001, 'Session not found; start a new session with initialize.');
        if (initialize)
          throw new ExchangeError(
            400,
            -32600,
            'Invalid Request: this session is already initialized; to start another, send initialize without Mcp-Session-Id',
          );
        checkHeaders(request.method, header('accept'), header('mcp-protocol-version'));
      } else if (initialize) {
        if (messages.length > 1)
          throw new ExchangeError(400, -32600, 'Invalid Request: initialize must be sent on its own');
        checkHeaders(request.method, header('accept'), undefined);
        session = await open(name, caller);
      } else {
        return rpcError(
          reply,
          400,
          -32600,
          'No session: send an initialize request first, then the Mcp-Session-Id header it returns.',
        );
      }
      reply.hijack();
      serve(session, request, reply.raw, messages);
    };

    /** Hands the exchange to the session's transport, which answers on the raw response. */
    const serve = (
      session: Session,
      request: FastifyRequest,
      res: ServerResponse,
      messages: JSONRPCMessage[],
    ) => {
      try {
        if (request.method === 'POST') session.transport.post(res, messages, Array.isArray(request.body));
        else if (request.method === 'GET') session.transport.listen(res);
        else {
          res.writeHead(200).end();
          void session.transport.close();
        }
      } catch (error) {
        // The reply is hijacked: Fastify's error handler can no longer answer, so answer here.
        if (!(error instanceof ExchangeError)) request.log.error({ err: error }, 'MCP exchange failed');
        if (res.headersSent) {
          res.destroy();
          return;
        }
        const e =
          error instanceof ExchangeError
            ? error
            : new ExchangeError(500, -32603, `Internal error; correlation id ${request.id}.`);
        res
          .writeHead(e.status, { 'content-type': 'application/json' })
          .end(JSON.stringify(rpcErrorBody(e.code, e.message)));
      }
    };

    const open = async (name: string, caller: Extract<Caller, { kind: 'actor' }>): Promise<Session> => {
      const { server, lane } = await options.host.openSession(name, {
        actor: caller.actor,
        allowedTypes: caller.allowedTypes,
      });
      const session: Session = {
        transport: new NodeStreamableTransport(randomUUID(), lane),
        server,
        actorId: caller.actor.id,
        upstream: name,
      };
      const id = session.transport.sessionId;
      session.transport.onclose = () => {
        sessions.delete(id);
        options.host.closeSession(name, server);
      };
      await server.connect(session.transport);
      sessions.set(id, session);
      evictBeyondLimit(caller.actor.id);
      return session;
    };

    /** Bounds memory per actor: an agent that never closes sessions loses its oldest ones. */
    const evictBeyondLimit = (actorId: string) => {
      const mine = [...sessions.entries()].filter(([, s]) => s.actorId === actorId);
      for (const [id, s] of mine.slice(0, Math.max(0, mine.length - maxPerActor))) {
        sessions.delete(id);
        void s.transport.close().catch(() => {});
      }
    };

    app.route({ method: ['POST', 'GET', 'DELETE'], url: '/mcp/:name', handler, schema: { hide: true } });
    // Before the server stops accepting: open event streams would otherwise keep close() waiting.
    app.addHook('preClose', async () => {
      await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => {})));
      sessions.clear();
    });
  };
  return { plugin, sessions };
}

function errorReply(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  options: McpHttpOptions,
) {
  if (error instanceof ParseError) return rpcError(reply, 400, -32700, error.message);
  if (error instanceof ExchangeError) return rpcError(reply, error.status, error.code, error.message);
  if (isCountersignError(error)) {
    if (error.status === 401) reply.header('www-authenticate', 'Bearer realm="countersign"');
    const code = error.status === 401 ? -32001 : error.status >= 500 ? -32603 : -32600;
    return rpcError(reply, error.status, code, `${error.message}. ${errorFix(error)}`);
  }
  // The upstream could not be reached when the session opened; the message names no configuration.
  if (error instanceof McpError)
    return rpcError(reply, 503, error.code, error.message.replace(/^MCP error -?\d+: /, ''));
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return rpcError(
      reply,
      413,
      -32600,
      `Message too large: the limit is ${options.maxMessageBytes} bytes (mcp.maxMessageBytes). Send a smaller request.`,
    );
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return rpcError(
      reply,
      415,
      -32600,
      'Unsupported media type: send JSON-RPC with Content-Type: application/json.',
    );
  if (error.statusCode && error.statusCode < 500)
    return rpcError(reply, error.statusCode, -32600, error.message);
  request.log.error({ err: error }, 'MCP endpoint failed');
  return rpcError(reply, 500, -32603, `Internal error; correlation id ${request.id}.`);
}

function errorFix(error: CountersignError): string {
  if (error.code === 'CS_ERR_UNAUTHENTICATED')
    return 'Send Authorization: Bearer <agent key> (COUNTERSIGN_TOKEN) with a valid, unrevoked agent key';
  return '';
}
