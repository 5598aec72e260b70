import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { FastifyInstance } from 'fastify';
import type { McpConfig } from '../../config/mcp.js';
import type { Authenticator } from '../../service/auth.js';
import type { Service } from '../../service/service.js';
import { Forwarder } from './forward.js';
import { Guard } from './guard.js';
import { mcpHttpFront, mcpPrefix } from './http.js';
import type { Lane } from './http-transport.js';
import { Recall } from './recall.js';
import { type SessionCaller, sessionLane, sessionServer } from './session.js';
import type { PolicyPreview } from './tools.js';
import { type ListChanged, Upstream, type UpstreamLogger } from './upstream.js';

export interface McpGatewayDeps {
  config: McpConfig;
  service: Service;
  authenticator: Authenticator;
  preview: PolicyPreview;
  logger: UpstreamLogger;
  version: string;
  /** Between progress notifications while a call is held; tests shorten it. */
  progressEveryMs?: number;
}

/**
 * The MCP gateway: one shared connection per configured upstream, one MCP server per agent
 * session, and a guard that turns every tool call, resource read and prompt get into an action
 * request through the service.
 */
export class McpGateway {
  private readonly upstreams = new Map<
    string,
    { upstream: Upstream; forwarder: Forwarder; servers: Set<Server> }
  >();
  readonly guard: Guard;

  constructor(private readonly deps: McpGatewayDeps) {
    this.guard = new Guard({
      service: deps.service,
      recall: new Recall(),
      holdMs: deps.config.holdMs,
      denyRepeatWindowMs: deps.config.denyRepeatWindowMs,
      recordBeforeForward: deps.config.recordBeforeForward,
      logger: deps.logger,
      ...(deps.progressEveryMs ? { progressEveryMs: deps.progressEveryMs } : {}),
    });
    for (const [name, config] of Object.entries(deps.config.upstreams)) {
      const upstream = new Upstream({
        name,
        config,
        logger: deps.logger,
        version: deps.version,
        onListChanged: (what) => this.listChanged(name, what),
      });
      this.upstreams.set(name, {
        upstream,
        forwarder: new Forwarder(upstream, deps.config.upstreamTimeoutMs),
        servers: new Set(),
      });
    }
  }

  /** Serves `/mcp/NAME` ahead of the app's router and starts connecting to every upstream. */
  async mount(app: FastifyInstance): Promise<void> {
    const front = mcpHttpFront({
      host: {
        has: (name) => this.upstreams.has(name),
        openSession: (name, caller) => this.openSession(name, caller),
        closeSession: (name, server) => this.upstreams.get(name)?.servers.delete(server),
      },
      authenticator: this.deps.authenticator,
      maxMessageBytes: this.deps.config.maxMessageBytes,
      log: app.log,
    });
    app.front.add(mcpPrefix, `${mcpPrefix}:name`, front.handle);
    // Before the server stops accepting: open event streams would otherwise keep close() waiting.
    app.addHook('preClose', front.close);
    app.addHook('onReady', async () => {
      for (const u of this.upstreams.values()) u.upstream.start();
    });
  }

  upstream(name: string): Upstream | undefined {
    return this.upstreams.get(name)?.upstream;
  }

  async openSession(name: string, caller: SessionCaller): Promise<{ server: Server; lane: Lane }> {
    const entry = this.upstreams.get(name);
    if (!entry) throw new Error(`no upstream ${name}`);
    await entry.upstream.connected();
    const deps = {
      upstream: entry.upstream,
      guard: this.guard,
      service: this.deps.service,
      forwarder: entry.forwarder,
      preview: this.deps.preview,
      hideDeniedTools: this.deps.config.hideDeniedTools,
      version: this.deps.version,
    };
    const server = sessionServer(deps, caller);
    entry.servers.add(server);
    server.onclose = () => entry.servers.delete(server);
    return { server, lane: sessionLane(deps, caller) };
  }

  private listChanged(name: string, what: ListChanged): void {
    for (const server of this.upstreams.get(name)?.servers ?? []) {
      const send =
        what === 'tools'
          ? server.sendToolListChanged()
          : what === 'resources'
            ? server.sendResourceListChanged()
            : server.sendPromptListChanged();
      send.catch(() => {});
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.upstreams.values()].map((u) => u.upstream.close()));
  }
}
