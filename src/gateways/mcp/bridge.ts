import type { Readable, Writable } from 'node:stream';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  ErrorCode,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
} from '@modelcontextprotocol/sdk/types.js';

export interface BridgeOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  server: string;
  stdin?: Readable;
  stdout?: Writable;
  /** Where the bridge reports its own problems; never the token. */
  log?: (line: string) => void;
}

/** Turns a failed POST into the text the agent's client (and model) will see. */
export function bridgeErrorText(error: unknown, server: string): string {
  const status = error instanceof StreamableHTTPError ? error.code : undefined;
  if (status === 401)
    return 'Countersign refused the agent key: set COUNTERSIGN_TOKEN to a valid, unrevoked agent key (csk_…).';
  if (status === 403)
    return 'Countersign refused this credential for MCP: use an agent key, not a reviewer token.';
  if (status === 404)
    return `Countersign has no MCP server '${server}', or the session ended; restart the MCP server entry.`;
  if (status === 413) return 'The message is larger than the gateway accepts (mcp.maxMessageBytes).';
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED' || (error instanceof TypeError && /fetch failed/.test(error.message)))
    return 'Cannot reach the Countersign gateway: is `countersign serve` running? Set COUNTERSIGN_URL.';
  return `The Countersign gateway failed the request: ${error instanceof Error ? error.message.slice(0, 300) : String(error)}`;
}

/**
 * The stdio face of the MCP gateway: reads JSON-RPC from the agent on stdin and relays every
 * message to the gateway's `/mcp/NAME` over Streamable HTTP with the agent's key, and back.
 * It holds no upstream credential and decides nothing; the gateway does both.
 */
export async function runStdioBridge(o: BridgeOptions): Promise<{ closed: Promise<void> }> {
  const log = o.log ?? (() => {});
  const local = new StdioServerTransport(o.stdin, o.stdout);
  const remote = new StreamableHTTPClientTransport(new URL(`/mcp/${encodeURIComponent(o.server)}`, o.url), {
    requestInit: { headers: { authorization: `Bearer ${o.token}` } },
  });
  const initializeIds = new Set<string | number>();
  let done: () => void = () => {};
  const closed = new Promise<void>((resolve) => {
    done = resolve;
  });

  const fail = (message: JSONRPCMessage, text: string) => {
    if (!isJSONRPCRequest(message)) return;
    void local.send({
      jsonrpc: '2.0',
      id: message.id,
      error: { code: ErrorCode.InternalError, message: text },
    });
  };

  local.onmessage = (message) => {
    if (isJSONRPCRequest(message) && message.method === 'initialize') initializeIds.add(message.id);
    remote.send(message).catch((error: unknown) => {
      const text = bridgeErrorText(error, o.server);
      log(`countersign mcp: ${text}`);
      fail(message, text);
    });
  };
  // A line that is not JSON-RPC cannot be answered by id; say so with a null id and keep serving.
  local.onerror = (error) => {
    log(`countersign mcp: ignored a malformed message from the client (${error.message.slice(0, 200)})`);
    void local
      .send({
        jsonrpc: '2.0',
        id: null,
        error: { code: ErrorCode.ParseError, message: 'Parse error: not a JSON-RPC message' },
      } as unknown as JSONRPCMessage)
      .catch(() => {});
  };
  remote.onmessage = (message) => {
    if (isJSONRPCResultResponse(message) && initializeIds.delete(message.id)) {
      const version = (message.result as { protocolVersion?: string }).protocolVersion;
      if (version) remote.setProtocolVersion(version);
    }
    void local.send(message).catch(() => {});
  };
  remote.onerror = (error) => log(`countersign mcp: ${bridgeErrorText(error, o.server)}`);
  local.onclose = () => {
    void remote
      .terminateSession()
      .catch(() => {})
      .finally(() => remote.close().finally(done));
  };
  await remote.start();
  await local.start();
  // The agent closing our stdin is how it stops the server it launched.
  (o.stdin ?? process.stdin).once('end', () => void local.close());
  return { closed };
}
