import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { isInitializeRequest, McpError } from '@modelcontextprotocol/sdk/types.js';
import { CountersignError, isCountersignError } from '../../core/errors.js';
import { type Authenticator, bearerToken, type Caller } from '../../service/auth.js';
import { BodyAborted, readJsonBody } from './http-body.js';
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
  /** Where unexpected failures are logged, with the correlation id their answer carries. */
  log: { error(obj: object, msg: string): void };
}

interface Session {
  transport: NodeStreamableTransport;
  server: Server;
  actorId: string;
  upstream: string;
}

type ActorCaller = Extract<Caller, { kind: 'actor' }>;

/** The path all MCP endpoints share; what follows it is the upstream's name. */
export const mcpPrefix = '/mcp/';

/** A JSON-RPC error with no request id, the body of every HTTP-level refusal. */
function rpcErrorBody(code: number, message: string) {
  return { jsonrpc: '2.0', id: null, error: { code, message } };
}

/** Answers the HTTP exchange itself with a JSON-RPC error, for clients that only speak MCP. */
function rpcError(res: ServerResponse, e: ExchangeError, headers: Record<string, string> = {}): void {
  res
    .writeHead(e.status, { 'content-type': 'application/json; charset=utf-8', ...headers })
    .end(JSON.stringify(rpcErrorBody(e.code, e.message)));
}

/** `/mcp/NAME` or `/mcp/NAME?query` → NAME; undefined for any other path under the prefix. */
export function upstreamName(url: string): string | undefined {
  if (!url.startsWith(mcpPrefix)) return undefined;
  const query = url.indexOf('?');
  const name = url.slice(mcpPrefix.length, query === -1 ? undefined : query);
  if (name === '' || name.includes('/')) return undefined;
  try {
    return decodeURIComponent(name);
  } catch {
    return undefined;
  }
}

const methods = new Set(['POST', 'GET', 'DELETE']);

/**
 * Serves every upstream at `/mcp/NAME` over Streamable HTTP, on Node's request and response
 * objects, ahead of Fastify's router (decision 0013). The agent is authenticated before the body
 * is read; a session belongs to the actor that opened it and is invisible to any other. Every
 * refusal is a JSON-RPC error body with the HTTP status that fits it.
 */
export function mcpHttpFront(options: McpHttpOptions) {
  const sessions = new Map<string, Session>();
  const maxPerActor = options.maxSessionsPerActor ?? 64;
  let closing = false;

  /** The front's entry (a FrontHandler): false leaves a path that names no upstream to Fastify. */
  const handle = (req: IncomingMessage, res: ServerResponse): boolean => {
    const name = upstreamName(req.url ?? '');
    if (name === undefined) return false;
    if (!methods.has(req.method ?? ''))
      rpcError(res, new ExchangeError(405, -32000, 'Method not allowed: use POST, GET or DELETE'), {
        allow: 'POST, GET, DELETE',
      });
    else
      exchange(req, res, name).catch((error: unknown) => {
        // Only answering can fail here; a rejection must not reach the process.
        options.log.error({ err: error }, 'MCP endpoint failed to answer');
        res.destroy();
      });
    return true;
  };

  const exchange = async (req: IncomingMessage, res: ServerResponse, name: string) => {
    try {
      if (closing)
        throw new ExchangeError(503, -32000, 'The gateway is shutting down; retry once it is back.');
      const caller = await authenticate(req);
      const body = req.method === 'POST' ? await readJsonBody(req, options.maxMessageBytes) : undefined;
      await route(req, res, name, caller, body);
    } catch (error) {
      fail(error, res);
    }
  };

  const authenticate = async (req: IncomingMessage): Promise<ActorCaller> => {
    const caller = await options.authenticator.authenticate(bearerToken(req.headers.authorization));
    if (caller.kind !== 'actor')
      throw new CountersignError(
        'CS_ERR_FORBIDDEN',
        'MCP endpoints are for agents; use an agent key, not a reviewer token',
      );
    return caller;
  };

  /** Finds or opens the session the request belongs to, then hands the exchange to it. */
  const route = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    caller: ActorCaller,
    body: unknown,
  ) => {
    if (!options.host.has(name))
      throw new ExchangeError(404, -32601, `No MCP server named '${name}' is configured on this gateway.`);
    const method = req.method as string;
    const header = (h: string) => {
      const v = req.headers[h];
      return typeof v === 'string' ? v : undefined;
    };
    const sessionId = header('mcp-session-id');
    const messages = method === 'POST' ? parseMessages(body) : [];
    // The schema check only for a message that names the method: it runs on every POST.
    const initialize = messages.find(
      (m) => 'method' in m && m.method === 'initialize' && isInitializeRequest(m),
    );
    let session: Session | undefined;
    if (sessionId !== undefined) {
      session = sessions.get(sessionId);
      // Another actor's session is reported exactly like an unknown one.
      if (!session || session.actorId !== caller.actor.id || session.upstream !== name)
        throw new ExchangeError(404, -32001, 'Session not found; start a new session with initialize.');
      if (initialize)
        throw new ExchangeError(
          400,
          -32600,
          'Invalid Request: this session is already initialized; to start another, send initialize without Mcp-Session-Id',
        );
      checkHeaders(method, header('accept'), header('mcp-protocol-version'));
    } else if (initialize) {
      if (messages.length > 1)
        throw new ExchangeError(400, -32600, 'Invalid Request: initialize must be sent on its own');
      checkHeaders(method, header('accept'), undefined);
      session = await open(name, caller);
    } else {
      throw new ExchangeError(
        400,
        -32600,
        'No session: send an initialize request first, then the Mcp-Session-Id header it returns.',
      );
    }
    if (method === 'POST') session.transport.post(res, messages, Array.isArray(body));
    else if (method === 'GET') session.transport.listen(res);
    else {
      res.writeHead(200).end();
      void session.transport.close();
    }
  };

  /** Answers what went wrong, unless an answer has begun or nobody is left to hear it. */
  const fail = (error: unknown, res: ServerResponse) => {
    if (error instanceof BodyAborted) return void res.destroy();
    let e = known(error);
    if (!e) {
      const correlationId = randomUUID();
      options.log.error({ err: error, reqId: correlationId }, 'MCP endpoint failed');
      e = new ExchangeError(500, -32603, `Internal error; correlation id ${correlationId}.`);
    }
    if (res.headersSent) return void res.destroy();
    const headers: Record<string, string> = {};
    if (e.status === 401) headers['www-authenticate'] = 'Bearer realm="countersign"';
    // A body refused before it was read in full: stop reading it, end the connection.
    if (!res.req.complete) headers.connection = 'close';
    rpcError(res, e, headers);
  };

  const open = async (name: string, caller: ActorCaller): Promise<Session> => {
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

  /** Before the server stops accepting: open event streams would otherwise keep it waiting. */
  const close = async () => {
    closing = true;
    await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => {})));
    sessions.clear();
  };

  return { handle, close, sessions };
}

/** A failure the client is told about as it is; undefined for anything unexpected. */
function known(error: unknown): ExchangeError | undefined {
  if (error instanceof ExchangeError) return error;
  if (isCountersignError(error)) {
    const code = error.status === 401 ? -32001 : error.status >= 500 ? -32603 : -32600;
    return new ExchangeError(error.status, code, `${error.message}. ${errorFix(error)}`);
  }
  // The upstream could not be reached when the session opened; the message names no configuration.
  if (error instanceof McpError)
    return new ExchangeError(503, error.code, error.message.replace(/^MCP error -?\d+: /, ''));
  return undefined;
}

function errorFix(error: CountersignError): string {
  if (error.code === 'CS_ERR_UNAUTHENTICATED')
    return 'Send Authorization: Bearer <agent key> (COUNTERSIGN_TOKEN) with a valid, unrevoked agent key';
  return '';
}
