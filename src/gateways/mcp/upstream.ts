import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  type ServerCapabilities,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from '../../config/mcp.js';
import { HttpClientTransport } from './http-client.js';
import { hideable, redact, withParts } from './secrets.js';
import { UpstreamLane } from './upstream-lane.js';

export interface UpstreamLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export type ListChanged = 'tools' | 'resources' | 'prompts';

export interface UpstreamOptions {
  name: string;
  config: UpstreamConfig;
  logger: UpstreamLogger;
  /** Called when the upstream's lists may have changed (its own notification, or a restart). */
  onListChanged: (what: ListChanged) => void;
  version: string;
  /** Milliseconds, for spacing out error logs; Date.now by default. */
  now?: () => number;
}

const maxBackoffMs = 30_000;
/** At most one logged connection error per upstream in this span; the rest are counted. */
const errorLogEveryMs = 10_000;

/**
 * One connection from the gateway to one upstream MCP server, shared by every agent session.
 * The credentials in the configuration (env, headers) are used here and nowhere else.
 * A stdio upstream that exits is restarted with backoff; an HTTP upstream reconnects on next use.
 */
export class Upstream {
  private client: Client | null = null;
  /** Each connection's lane for plain requests, on the same transport as its Client. */
  private readonly lanes = new WeakMap<Client, UpstreamLane>();
  private connecting: Promise<Client> | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  /** Incremented on every (re)connection, so a stale close handler cannot tear down a newer one. */
  private generation = 0;
  /** An HTTP connection was lost: the upstream may have restarted with other tools. */
  private relist = false;
  private lastErrorLog = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  private readonly secrets: string[];

  constructor(private readonly options: UpstreamOptions) {
    this.secrets = secretsOf(options.config);
  }

  /**
   * Removes this upstream's configured secrets from a text before it is logged, recorded or sent
   * to an agent: defence in depth for error messages that quote a header, an env value or the URL.
   */
  redact(text: string): string {
    return redact(text, this.secrets);
  }

  get name(): string {
    return this.options.name;
  }

  /** The connected client, connecting first when needed. Throws a JSON-RPC error when unreachable. */
  async connected(): Promise<Client> {
    if (this.closed) throw unavailable(this.name, 'the gateway is shutting down');
    if (this.client) return this.client;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  /** The lane for plain requests on `client`'s connection (see UpstreamLane). */
  lane(client: Client): UpstreamLane | undefined {
    return this.lanes.get(client);
  }

  capabilities(): ServerCapabilities {
    return this.client?.getServerCapabilities() ?? {};
  }

  instructions(): string | undefined {
    return this.client?.getInstructions();
  }

  /**
   * Drops the connection after a transport failure so the next call reconnects: an HTTP upstream
   * that restarted has forgotten our session, and a stdio one is being restarted anyway.
   */
  reset(failed: Client): void {
    const client = this.client;
    // Only the connection that failed: a newer one may already be serving.
    if (!client || client !== failed) return;
    this.generation++;
    this.client = null;
    client.close().catch(() => {});
    if (this.options.config.kind === 'stdio') this.scheduleRestart();
    else this.relist = true;
  }

  /** Starts connecting in the background; failures are logged and retried. */
  start(): void {
    this.connected().catch(() => this.scheduleRestart());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const client = this.client;
    this.client = null;
    await client?.close().catch(() => {});
  }

  private async connect(): Promise<Client> {
    const generation = ++this.generation;
    const client = new Client({ name: 'countersign-gateway', version: this.options.version });
    client.onclose = () => this.lost(generation);
    // A failed start is logged once, below, as "cannot connect"; errors count once connected.
    client.onerror = (error) => {
      if (this.client === client) this.connectionError(error);
    };
    for (const [schema, what] of [
      [ToolListChangedNotificationSchema, 'tools'],
      [ResourceListChangedNotificationSchema, 'resources'],
      [PromptListChangedNotificationSchema, 'prompts'],
    ] as const) {
      client.setNotificationHandler(schema, async () => this.options.onListChanged(what));
    }
    try {
      // Inside the try: a transport that cannot be built (a URL that is not http or https) is a
      // failed start like any other, logged, counted and retried with backoff.
      const transport = this.transport();
      await client.connect(transport, { timeout: 30_000 });
      this.lanes.set(client, new UpstreamLane(transport));
    } catch (error) {
      this.failures++;
      await client.close().catch(() => {});
      // The message names the upstream and the cause, never its env or headers.
      this.options.logger.warn(
        { upstream: this.name, err: this.redact(describe(error)) },
        'cannot connect to the MCP upstream',
      );
      throw unavailable(this.name, 'it could not be started or reached');
    }
    if (generation !== this.generation || this.closed) {
      await client.close().catch(() => {});
      throw unavailable(this.name, 'it was restarted while connecting');
    }
    this.failures = 0;
    this.client = client;
    this.options.logger.info({ upstream: this.name }, 'connected to the MCP upstream');
    if (this.relist) {
      // A reconnected HTTP upstream may offer different tools; let every session re-list.
      this.relist = false;
      this.options.onListChanged('tools');
    }
    return client;
  }

  private transport(): Transport {
    const c = this.options.config;
    if (c.kind === 'http') {
      return new HttpClientTransport(new URL(c.url), { headers: c.headers });
    }
    const transport = new StdioClientTransport({
      command: c.command,
      args: c.args,
      env: { ...getDefaultEnvironment(), ...c.env },
      ...(c.cwd ? { cwd: c.cwd } : {}),
      stderr: 'pipe',
    });
    // The upstream's own diagnostics, kept at debug level: they are its business, not the agent's.
    transport.stderr?.on('data', (chunk: Buffer) =>
      this.options.logger.debug(
        { upstream: this.name, stderr: chunk.toString('utf8').slice(0, 500) },
        'upstream stderr',
      ),
    );
    return transport;
  }

  /** The connection ended: in-flight calls fail (the SDK rejects them); a stdio process is restarted. */
  private lost(generation: number): void {
    if (generation !== this.generation) return;
    // A connection that never opened is reported once, by connect, as "cannot connect".
    const wasOpen = this.client !== null;
    this.client = null;
    if (this.closed) return;
    if (wasOpen) this.options.logger.warn({ upstream: this.name }, 'the MCP upstream connection closed');
    if (this.options.config.kind === 'stdio') this.scheduleRestart();
    else this.relist = true;
  }

  /**
   * Something the connection could not use (an event that is not JSON-RPC, a dropped GET stream, a
   * response to no request): the calls themselves fail or succeed on their own, but an operator
   * needs to see a misbehaving upstream. Redacted, and spaced out so a broken upstream cannot flood
   * the log.
   */
  private connectionError(error: Error): void {
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastErrorLog < errorLogEveryMs) {
      this.unlogged++;
      return;
    }
    this.lastErrorLog = now;
    this.options.logger.warn(
      {
        upstream: this.name,
        err: this.redact(describe(error)),
        ...(this.unlogged ? { notLogged: this.unlogged } : {}),
      },
      'the MCP upstream connection reported an error',
    );
    this.unlogged = 0;
  }

  private scheduleRestart(): void {
    if (this.closed || this.restartTimer) return;
    const delay = Math.min(maxBackoffMs, 100 * 2 ** Math.min(this.failures, 10));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.connected().then(
        () => {
          // A restarted server may offer different tools; let every session re-list.
          this.options.onListChanged('tools');
        },
        () => this.scheduleRestart(),
      );
    }, delay);
    this.restartTimer.unref();
  }
}

export function unavailable(name: string, why: string): McpError {
  return new McpError(
    ErrorCode.InternalError,
    `The MCP server '${name}' behind Countersign is unavailable: ${why}. Nothing was run; try again shortly.`,
  );
}

/** Values worth hiding: env and header values, and the userinfo and query of an upstream URL. */
function secretsOf(config: UpstreamConfig): string[] {
  return hideable(
    config.kind === 'stdio'
      ? Object.values(config.env)
      : [...withParts(Object.values(config.headers)), ...urlSecrets(config.url)],
  );
}

function urlSecrets(url: string): string[] {
  try {
    const u = new URL(url);
    return [u.username, u.password, ...[...u.searchParams.values()]].filter(Boolean).map(decodeURIComponent);
  } catch {
    return [];
  }
}

/** An error's message without stack or properties that may carry configuration. */
export function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, 300);
}
