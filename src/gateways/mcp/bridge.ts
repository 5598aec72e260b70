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
  type JSONRPCRequest,
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

const isSessionLost = (error: unknown) => error instanceof StreamableHTTPError && error.code === 404;

/**
 * The stdio face of the MCP gateway: reads JSON-RPC from the agent on stdin and relays every
 * message to the gateway's `/mcp/NAME` over Streamable HTTP with the agent's key, and back.
 * It holds no upstream credential and decides nothing; the gateway does both.
 *
 * When the gateway forgets the session (it restarted), the bridge opens a new one by replaying the
 * agent's initialize handshake, then resends the message, so the agent need not be restarted.
 */
class Bridge {
  private readonly local: StdioServerTransport;
  private remote: StreamableHTTPClientTransport;
  private initialize: JSONRPCRequest | null = null;
  private readonly initializeIds = new Set<string | number>();
  private readonly internal = new Map<string | number, (m: JSONRPCMessage) => void>();
  private reopening: Promise<void> | null = null;
  private reopenCount = 0;
  private readonly log: (line: string) => void;
  /** Errors already reported by the request they failed; the transport reports them too. */
  private readonly reported = new WeakSet<object>();
  /** Set once the agent has closed stdin: aborting the event stream then is no problem. */
  private closing = false;

  constructor(private readonly o: BridgeOptions) {
    this.log = o.log ?? (() => {});
    this.local = new StdioServerTransport(o.stdin, o.stdout);
    this.remote = this.connectRemote();
    this.local.onmessage = (m) => void this.fromAgent(m);
    // A line that is not JSON-RPC cannot be answered by id; say so with a null id and keep serving.
    this.local.onerror = (error) => {
      this.log(
        `countersign mcp: ignored a malformed message from the client (${error.message.slice(0, 200)})`,
      );
      const reply = {
        jsonrpc: '2.0',
        id: null,
        error: { code: ErrorCode.ParseError, message: 'Parse error: not a JSON-RPC message' },
      };
      void this.local.send(reply as unknown as JSONRPCMessage).catch(() => {});
    };
  }

  async start(): Promise<{ closed: Promise<void> }> {
    await this.remote.start();
    await this.local.start();
    const closed = new Promise<void>((resolve) => {
      this.local.onclose = () => {
        this.closing = true;
        void this.remote
          .terminateSession()
          .catch(() => {})
          .finally(() => this.remote.close().finally(resolve));
      };
    });
    // The agent closing our stdin is how it stops the server it launched.
    (this.o.stdin ?? process.stdin).once('end', () => void this.local.close());
    return { closed };
  }

  private connectRemote(): StreamableHTTPClientTransport {
    const remote = new StreamableHTTPClientTransport(
      new URL(`/mcp/${encodeURIComponent(this.o.server)}`, this.o.url),
      {
        requestInit: { headers: { authorization: `Bearer ${this.o.token}` } },
      },
    );
    remote.onmessage = (m) => this.fromGateway(remote, m);
    // The transport reports a failed POST here and also rejects the send, which fromAgent
    // reports; waiting a turn lets that report win, so each problem is told once.
    remote.onerror = (error) =>
      setImmediate(() => {
        if (this.closing || this.reported.has(error) || isSessionLost(error)) return;
        this.log(`countersign mcp: ${bridgeErrorText(error, this.o.server)}`);
      });
    return remote;
  }

  private async fromAgent(message: JSONRPCMessage): Promise<void> {
    if (isJSONRPCRequest(message) && message.method === 'initialize') {
      this.initialize = message;
      this.initializeIds.add(message.id);
    }
    try {
      await this.reopening;
      await this.sendOrReopen(message);
    } catch (error) {
      if (typeof error === 'object' && error !== null) this.reported.add(error);
      const text = bridgeErrorText(error, this.o.server);
      this.log(`countersign mcp: ${text}`);
      if (isJSONRPCRequest(message))
        await this.local
          .send({ jsonrpc: '2.0', id: message.id, error: { code: ErrorCode.InternalError, message: text } })
          .catch(() => {});
    }
  }

  private async sendOrReopen(message: JSONRPCMessage): Promise<void> {
    try {
      await this.remote.send(message);
    } catch (error) {
      const replayable = this.initialize && !(isJSONRPCRequest(message) && message.method === 'initialize');
      if (!isSessionLost(error) || !replayable) throw error;
      this.reopening ??= this.reopen().finally(() => {
        this.reopening = null;
      });
      await this.reopening;
      await this.remote.send(message);
    }
  }

  /** A new gateway session with the agent's own initialize parameters; its answer stays here. */
  private async reopen(): Promise<void> {
    const old = this.remote;
    this.remote = this.connectRemote();
    void old.close().catch(() => {});
    await this.remote.start();
    const id = `countersign-reopen-${++this.reopenCount}`;
    const answered = new Promise<JSONRPCMessage>((resolve) => this.internal.set(id, resolve));
    await this.remote.send({ ...(this.initialize as JSONRPCRequest), id });
    const answer = await answered;
    if (!isJSONRPCResultResponse(answer)) throw new Error('the gateway refused to open a new session');
    const version = (answer.result as { protocolVersion?: string }).protocolVersion;
    if (version) this.remote.setProtocolVersion(version);
    await this.remote.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.log('countersign mcp: the gateway session had ended; opened a new one');
  }

  private fromGateway(remote: StreamableHTTPClientTransport, message: JSONRPCMessage): void {
    const id = (message as { id?: string | number }).id;
    if (id !== undefined && !isJSONRPCRequest(message)) {
      const waiter = this.internal.get(id);
      if (waiter) {
        this.internal.delete(id);
        waiter(message);
        return;
      }
      if (isJSONRPCResultResponse(message) && this.initializeIds.delete(id)) {
        const version = (message.result as { protocolVersion?: string }).protocolVersion;
        if (version) remote.setProtocolVersion(version);
      }
    }
    void this.local.send(message).catch(() => {});
  }
}

export async function runStdioBridge(o: BridgeOptions): Promise<{ closed: Promise<void> }> {
  return new Bridge(o).start();
}
