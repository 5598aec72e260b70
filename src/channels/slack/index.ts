import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../core/clock.js';
import type { Reviewer } from '../../core/identity.js';
import { type ChatIdentityLinks, firstOf, StaticChatLinks } from '../../identity/chat-links.js';
import type { Service, ServiceLogger } from '../../service/service.js';
import type { SqliteStore } from '../../store/sqlite/index.js';
import { SqliteSlackState } from '../../store/sqlite/slack.js';
import { resyncGraceMs, SlackChannel } from './channel.js';
import type { SlackConfig } from './config.js';
import { SlackInteractions } from './interactions.js';
import { slackRoutes } from './routes.js';
import { SocketModeClient } from './socket-mode.js';
import { SlackWebApi } from './web-api.js';

export interface SlackDeps {
  config: SlackConfig;
  store: SqliteStore;
  clock: Clock;
  directory: { get(id: string): Reviewer | undefined };
  logger?: ServiceLogger;
  failed?: (channel: string) => void;
  /** Links from the identity module; without them, the static `slack.users` list. */
  links?: ChatIdentityLinks;
  /** The identity module's reverse lookup (chat user of a reviewer or email); else the static list. */
  userFor?: (reviewerOrEmail: string) => Promise<{ team: string; user: string } | undefined>;
  /** The identity module's self-service link flow, offered to unlinked users. */
  startLink?: (teamId: string, userId: string) => Promise<{ url: string }>;
  /** Tests: retries without wall time. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The Slack integration in two halves: the channel (posting, updating) exists before the service,
 * and `attach` adds the inbound side (HTTP route or Socket Mode) once the service exists.
 */
export function createSlack(deps: SlackDeps) {
  const { config } = deps;
  const api = new SlackWebApi({
    baseUrl: config.apiUrl,
    token: config.botToken,
    attempts: config.retryAttempts,
    retryBaseMs: config.retryBaseMs,
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  const state = new SqliteSlackState(deps.store);
  const staticLinks = new StaticChatLinks(
    config.users.map((u) => ({ platform: 'slack' as const, ...u })),
    deps.directory,
  );
  // Links made through the identity provider come first (they carry a login time for step-up
  // rules); the static `slack.users` list is the fallback.
  const links = deps.links ? firstOf(deps.links, staticLinks) : staticLinks;
  const channel = new SlackChannel({
    config,
    api,
    state,
    clock: deps.clock,
    audit: (events) => deps.store.appendEvents(events),
    userFor: async (principal) =>
      ((await deps.userFor?.(principal)) ?? staticLinks.userFor('slack', principal))?.user,
    load: (id) => deps.store.getRequest(id),
    ...(deps.failed ? { failed: deps.failed } : {}),
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      await channel.resync();
    } catch (error) {
      deps.logger?.error({ err: error }, 'Slack resync sweep failed; will retry');
    } finally {
      sweeping = false;
    }
  };
  let socket: SocketModeClient | null = null;

  async function attach(app: FastifyInstance, service: Service): Promise<SlackInteractions> {
    const interactions = new SlackInteractions({
      service,
      links,
      api,
      state,
      clock: deps.clock,
      teamIds: config.teamIds,
      appIds: config.appIds,
      ...(deps.startLink ? { startLink: deps.startLink } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
    });
    if (config.mode === 'http' && config.signingSecret) {
      await app.register(slackRoutes, {
        interactions,
        signingSecret: config.signingSecret,
        clock: deps.clock,
      });
    }
    if (config.mode === 'socket' && config.appToken) {
      socket = new SocketModeClient({
        api,
        appToken: config.appToken,
        interactions,
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
    }
    return interactions;
  }

  /** Starts the inbound side (Socket Mode) and the resync sweep. */
  function start(intervalMs = resyncGraceMs): void {
    socket?.start();
    timer = setInterval(() => void sweep(), intervalMs);
    timer.unref();
  }

  async function stop(): Promise<void> {
    clearInterval(timer);
    await socket?.stop();
    await channel.idle();
  }

  return {
    config,
    api,
    state,
    channel,
    attach,
    start,
    stop,
    get socket() {
      return socket;
    },
  };
}

export type Slack = ReturnType<typeof createSlack>;
