import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  CallToolResultSchema,
  GetPromptRequestSchema,
  type GetPromptResult,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListPromptsResultSchema,
  ListResourcesRequestSchema,
  ListResourcesResultSchema,
  ListResourceTemplatesRequestSchema,
  ListResourceTemplatesResultSchema,
  ListToolsRequestSchema,
  ListToolsResultSchema,
  McpError,
  ReadResourceRequestSchema,
  type ReadResourceResult,
  ReadResourceResultSchema,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { Actor } from '../../core/identity.js';
import type { ActionRequest } from '../../core/request.js';
import type { Service } from '../../service/service.js';
import { type CallExtra, type Forwarder, progressRelay } from './forward.js';
import {
  type CallContext,
  type Guard,
  type McpActionType,
  mcpActionTypes,
  type Outcome,
  type Params,
  type Runner,
} from './guard.js';
import type { Lane } from './http-transport.js';
import { isObject, isProgressToken } from './jsonrpc.js';
import { awaitToolName, refusedByGatewayText } from './messages.js';
import { awaitTool, type PolicyPreview, shapeTools } from './tools.js';
import type { Upstream } from './upstream.js';

export interface SessionDeps {
  upstream: Upstream;
  guard: Guard;
  service: Service;
  forwarder: Forwarder;
  preview: PolicyPreview;
  hideDeniedTools: boolean;
  version: string;
}

export interface SessionCaller {
  actor: Actor;
  allowedTypes: string[] | null;
}

/** JSON-RPC error code for a request Countersign refused or holds; the data says which. */
export const refusedCode = -32003;

const justificationKey = 'countersign/justification';

function justificationOf(meta: Record<string, unknown> | undefined): string | undefined {
  const value = meta?.[justificationKey];
  return typeof value === 'string' && value.trim() ? value.slice(0, 2000) : undefined;
}

function toolResult(outcome: Outcome<CallToolResult>): CallToolResult {
  if (outcome.kind === 'ran') return outcome.value;
  const meta = outcome.request
    ? { 'countersign/requestId': outcome.request.id, 'countersign/status': outcome.request.status }
    : {};
  // isError, so clients do not validate it against the tool's output schema and models read it as
  // "this did not run".
  return { content: [{ type: 'text', text: outcome.text }], isError: true, _meta: meta };
}

/** A non-tool outcome (resources/read, prompts/get) that did not run becomes a JSON-RPC error. */
function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.kind === 'ran') return outcome.value;
  throw new McpError(refusedCode, outcome.text, {
    requestId: outcome.request?.id ?? null,
    status: outcome.request?.status ?? 'refused',
  });
}

/**
 * One MCP server per agent session, speaking for one upstream. Every handler goes through the
 * guard; only list requests pass straight through.
 */
export function sessionServer(deps: SessionDeps, caller: SessionCaller): Server {
  const up = deps.upstream.capabilities();
  const capabilities: ServerCapabilities = { tools: { listChanged: true } };
  if (up.resources) capabilities.resources = { listChanged: true };
  if (up.prompts) capabilities.prompts = { listChanged: true };
  const instructions = deps.upstream.instructions();
  const server = new Server(
    { name: `countersign/${deps.upstream.name}`, version: deps.version },
    { capabilities, ...(instructions ? { instructions } : {}) },
  );
  const ctx = (extra: CallExtra): CallContext => ({
    actor: caller.actor,
    allowedTypes: caller.allowedTypes,
    signal: extra.signal,
    progress: progressRelay(extra),
  });
  const f = deps.forwarder;

  server.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
    const listed = await f.request(request, ListToolsResultSchema, extra);
    const tools = shapeTools(listed.tools, {
      upstream: deps.upstream.name,
      actor: caller.actor,
      preview: deps.preview,
      hideDenied: deps.hideDeniedTools,
    });
    return { ...listed, tools: request.params?.cursor ? tools : [awaitTool, ...tools] };
  });

  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    callTool(deps, caller, request.params, extra),
  );

  if (up.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, (r, extra) =>
      f.request(r, ListResourcesResultSchema, extra),
    );
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (r, extra) =>
      f.request(r, ListResourceTemplatesResultSchema, extra),
    );
    server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
      const outcome = await deps.guard.call(
        {
          type: 'mcp.resources.read',
          upstream: deps.upstream.name,
          target: request.params.uri,
          params: { uri: request.params.uri },
          justification: justificationOf(request.params._meta),
        },
        ctx(extra),
        runnerFor('mcp.resources.read', f, extra),
      );
      return unwrap(outcome) as ReadResourceResult;
    });
  }

  if (up.prompts) {
    server.setRequestHandler(ListPromptsRequestSchema, (r, extra) =>
      f.request(r, ListPromptsResultSchema, extra),
    );
    server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
      const outcome = await deps.guard.call(
        {
          type: 'mcp.prompts.get',
          upstream: deps.upstream.name,
          target: request.params.name,
          params: (request.params.arguments ?? {}) as Params,
          justification: justificationOf(request.params._meta),
        },
        ctx(extra),
        runnerFor('mcp.prompts.get', f, extra),
      );
      return unwrap(outcome) as GetPromptResult;
    });
  }
  return server;
}

/** The params of a tools/call, as the SDK's schema or the lane's check leaves them. */
interface CallToolParams {
  name: string;
  arguments?: Record<string, unknown> | undefined;
  _meta?: Record<string, unknown> | undefined;
}

/** `tools/call`: the guard decides, and only a decided call reaches the upstream. */
function callTool(
  deps: SessionDeps,
  caller: SessionCaller,
  params: CallToolParams,
  extra: CallExtra,
): Promise<CallToolResult> {
  const ctx: CallContext = {
    actor: caller.actor,
    allowedTypes: caller.allowedTypes,
    signal: extra.signal,
    progress: progressRelay(extra),
  };
  if (params.name === awaitToolName) return awaitDecision(deps, params.arguments, ctx, extra);
  return deps.guard
    .call(
      {
        type: 'mcp.tools.call',
        upstream: deps.upstream.name,
        target: params.name,
        params: (params.arguments ?? {}) as Params,
        justification: justificationOf(params._meta),
      },
      ctx,
      runnerFor('mcp.tools.call', deps.forwarder, extra),
    )
    .then((outcome) => toolResult(outcome as Outcome<CallToolResult>));
}

/** The params of a plain tools/call, or undefined for anything else (the SDK then handles it). */
function plainCallParams(params: unknown): CallToolParams | undefined {
  if (!isObject(params) || typeof params.name !== 'string') return undefined;
  for (const key in params) if (key !== 'name' && key !== 'arguments' && key !== '_meta') return undefined;
  const { arguments: args, _meta } = params;
  if (args !== undefined && !isObject(args)) return undefined;
  if (_meta !== undefined) {
    if (!isObject(_meta)) return undefined;
    if (_meta.progressToken !== undefined && !isProgressToken(_meta.progressToken)) return undefined;
  }
  return params as unknown as CallToolParams;
}

/**
 * The session's tools/call lane: a well-formed `tools/call` goes straight to the same handler the
 * SDK's Server would call, without the Server's per-message classification, request and result
 * parses (the larger part of the gateway's zod time per call, decision 0009). Anything else, including a
 * tools/call with params the SDK's schema would reject or extend (a `task`), is left to the Server.
 * Results need no second check: the gateway's own are built well-formed, and an upstream's were
 * parsed by the SDK's Client against the same result schema.
 */
export function sessionLane(deps: SessionDeps, caller: SessionCaller): Lane {
  return (method, params, extra) => {
    if (method !== 'tools/call') return undefined;
    const call = plainCallParams(params);
    return call ? callTool(deps, caller, call, extra) : undefined;
  };
}

/** The target named by a request's resource, `UPSTREAM/TARGET`. */
const targetOf = (r: ActionRequest) => r.action.resource.slice(r.action.resource.indexOf('/') + 1);

/**
 * Runs an action exactly as the request records it: the tool name, URI or prompt name comes from
 * the request's resource and the arguments are the params the guard hands over (the decided ones).
 */
function runnerFor(type: McpActionType, f: Forwarder, extra: CallExtra): Runner<unknown> {
  switch (type) {
    case 'mcp.tools.call':
      return {
        run: (r, params) =>
          f.request(
            { method: 'tools/call', params: { name: targetOf(r), arguments: params } },
            CallToolResultSchema,
            extra,
          ),
        summarize: (v) => {
          const result = v as CallToolResult;
          return result.isError
            ? { outcome: 'failed', detail: 'the tool returned an error result' }
            : {
                outcome: 'succeeded',
                detail: `the tool returned ${result.content?.length ?? 0} content item(s)`,
              };
        },
      };
    case 'mcp.resources.read':
      return {
        run: (r) =>
          f.request(
            { method: 'resources/read', params: { uri: targetOf(r) } },
            ReadResourceResultSchema,
            extra,
          ),
        summarize: (v) => ({
          outcome: 'succeeded',
          detail: `read ${(v as ReadResourceResult).contents.length} content item(s)`,
        }),
      };
    default:
      return {
        run: (r, params) =>
          f.request(
            {
              method: 'prompts/get',
              params: { name: targetOf(r), arguments: params as Record<string, string> },
            },
            GetPromptResultSchema,
            extra,
          ),
        summarize: (v) => ({
          outcome: 'succeeded',
          detail: `returned ${(v as GetPromptResult).messages.length} message(s)`,
        }),
      };
  }
}

/** A resource or prompt result handed back through the await tool, which must answer as a tool. */
function asToolResult(type: McpActionType, value: unknown): CallToolResult {
  if (type === 'mcp.tools.call') return value as CallToolResult;
  if (type === 'mcp.resources.read')
    return {
      content: (value as ReadResourceResult).contents.map((resource) => ({ type: 'resource', resource })),
    };
  return { content: [{ type: 'text', text: JSON.stringify((value as GetPromptResult).messages) }] };
}

/** `countersign_await_decision`: waits on one of this actor's requests through this upstream. */
async function awaitDecision(
  deps: SessionDeps,
  args: Record<string, unknown> | undefined,
  ctx: CallContext,
  extra: CallExtra,
): Promise<CallToolResult> {
  const id = args?.request_id;
  const refuse = (why: string): CallToolResult => ({
    content: [{ type: 'text', text: refusedByGatewayText(why) }],
    isError: true,
  });
  if (typeof id !== 'string' || !id)
    return refuse('request_id must be the id string from the waiting message');
  const request = await deps.service.getFor(id, { actor: ctx.actor }).then(
    (s) => s.request,
    () => null,
  );
  // Another actor's request, or one for another server, is reported exactly like a missing one.
  const type = request?.action.type as McpActionType | undefined;
  if (
    !request ||
    !type ||
    !mcpActionTypes.includes(type) ||
    !request.action.resource.startsWith(`${deps.upstream.name}/`)
  )
    return refuse(`there is no request ${id} made by you through the MCP server '${deps.upstream.name}'`);
  const outcome = await deps.guard.resume(request, ctx, runnerFor(type, deps.forwarder, extra));
  if (outcome.kind === 'ran') return asToolResult(type, outcome.value);
  return toolResult(outcome as Outcome<CallToolResult>);
}
