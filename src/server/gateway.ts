import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { AuditCheckpointer } from '../audit/checkpointer.js';
import { logSigner } from '../audit/log.js';
import { directorySink, witnessSink } from '../audit/publish.js';
import type { Channel } from '../channels/channel.js';
import { resolveSlack } from '../channels/slack/config.js';
import { createSlack, type Slack } from '../channels/slack/index.js';
import { callbackRefusal } from '../channels/webhook/callback.js';
import { resolveWebhooks } from '../channels/webhook/config.js';
import { createWebhooks, type Webhooks } from '../channels/webhook/index.js';
import type { Config } from '../config/load.js';
import { configLoadedDetails } from '../config/record.js';
import { type Clock, systemClock } from '../core/clock.js';
import { norm, type Reviewer } from '../core/identity.js';
import { McpGateway } from '../gateways/mcp/index.js';
import { loadPolicy } from '../policy/load.js';
import type { Policy } from '../policy/types.js';
import { Admin } from '../service/admin.js';
import { Authenticator, type ReviewerDirectory } from '../service/auth.js';
import { Expirer } from '../service/expirer.js';
import { InProcessNotifier } from '../service/notifier.js';
import { Service, type ServiceLogger } from '../service/service.js';
import type { FlushObservation } from '../store/sqlite/flush.js';
import { SqliteStore } from '../store/sqlite/index.js';
import { within } from '../util/deadline.js';
import { buildApp } from './app.js';
import { type DevCredentials, devReviewers, ensureDevCredentials } from './dev.js';
import { createIdentity, type IdentityParts } from './identity.js';
import { loadOrCreateSigningKey, markKeyInUse } from './keys.js';
import { createMetrics } from './metrics.js';
import { PolicyReloader, type ReloadResult } from './policy-reload.js';

export const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
export const version = (
  JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }
).version;
export const examplePolicy = join(packageRoot, 'examples', 'policies', 'default.yaml');

export function staticDirectory(reviewers: Reviewer[]): ReviewerDirectory {
  const byId = new Map(reviewers.map((r) => [r.id, r]));
  return { get: (id) => byId.get(id), list: () => [...byId.values()] };
}

/**
 * Groups of the human behind an agent, for `principal.groups` policy rules: the groups they hold
 * as a configured reviewer plus their static `identity.groups` membership. IdP groups are known
 * only for people who have signed in as reviewers, so they are not consulted here.
 */
export function principalGroupsFrom(directory: ReviewerDirectory, staticGroups: Record<string, string[]>) {
  return (principal: string): string[] => {
    const who = norm(principal);
    const out = new Set<string>();
    for (const r of directory.list())
      if (norm(r.id) === who || norm(r.email) === who) for (const g of r.groups) out.add(g);
    for (const [group, members] of Object.entries(staticGroups))
      if (members.some((m) => norm(m) === who)) out.add(group);
    return [...out].sort();
  };
}

/** How long `/readyz` waits for a store write to become durable before answering 503. */
const readyWriteMs = 5_000;

/** The reviewers a configuration declares, plus the demo ones in dev mode. */
export function directoryFor(config: Config): ReviewerDirectory {
  const configured: Reviewer[] = config.reviewers.map((r) => ({
    id: r.id,
    email: r.email,
    name: r.name,
    groups: r.groups,
  }));
  return staticDirectory(config.dev ? [...devReviewers, ...configured] : configured);
}

/** Policy files from the configuration; with none, the example policy copied into the data dir. */
export function policyFiles(config: Config): string[] {
  if (config.policyFiles) return config.policyFiles;
  const file = join(config.dataDir, 'policy.yaml');
  if (!existsSync(file)) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    copyFileSync(examplePolicy, file);
  }
  return [file];
}

/** `onFlush` feeds the gateway's metrics; the CLI's one-off commands leave it out. */
export function openStore(config: Config, onFlush?: (flush: FlushObservation) => void): SqliteStore {
  return new SqliteStore({ path: config.store.path, durability: config.store.durability, onFlush });
}

export interface Gateway {
  app: FastifyInstance;
  service: Service;
  store: SqliteStore;
  admin: Admin;
  authenticator: Authenticator;
  identity: IdentityParts;
  directory: ReviewerDirectory;
  policy: () => Policy;
  /** Re-reads the policy files (SIGHUP, file change); an invalid policy keeps the old one running. */
  reloadPolicy: (trigger: 'sighup' | 'file_change') => Promise<ReloadResult>;
  dev: DevCredentials | null;
  mcp: McpGateway | null;
  signingKeyCreated: boolean;
  webhooks: Webhooks;
  slack: Slack | null;
  /** Signs audit checkpoints: every second while the log grows, and at close. */
  checkpointer: AuditCheckpointer;
  close(): Promise<void>;
}

/** Assembles a complete gateway from a configuration. Does not listen; see `listen`. */
export async function createGateway(config: Config, clock: Clock = systemClock): Promise<Gateway> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const key = loadOrCreateSigningKey(config.audit.signingKeyFile);
  // `audit rotate-key` refuses while this mark names a live process (see keys.ts).
  const releaseKey = markKeyInUse(config.audit.signingKeyFile);
  const files = policyFiles(config);
  const policy = loadPolicy(files);
  // Channel configuration errors surface before anything is opened (issue 6).
  const webhookConfig = resolveWebhooks(config.webhooks);
  const slackConfig = config.slack ? resolveSlack(config.slack, config.server.publicUrl) : null;
  const metrics = createMetrics();
  const store = openStore(config, metrics.storeFlush);
  const directory = directoryFor(config);
  // Identity (issue 5): workload JWTs, reviewer sessions, OIDC login, chat links.
  const identity = createIdentity(config, store, clock, directory);
  const authenticator = new Authenticator(store, directory, clock, identity.sources);
  let reloader: PolicyReloader | null = null;
  const current = () => reloader?.current() ?? policy;

  // --- Slack and webhook channels (issue 6) ---------------------------------------------------
  // The channels exist before the app (the service needs them), so they log through a logger
  // that forwards to the app's once it is built.
  let appLog: ServiceLogger | undefined;
  const channelLog: ServiceLogger = {
    warn: (obj, msg) => appLog?.warn(obj, msg),
    error: (obj, msg) => appLog?.error(obj, msg),
  };
  const webhooks = createWebhooks({
    config: webhookConfig,
    store,
    clock,
    logger: channelLog,
    failed: metrics.service.channelFailed,
  });
  const slack = slackConfig
    ? createSlack({
        config: slackConfig,
        store,
        clock,
        directory,
        links: identity.chatLinks,
        userFor: (principal) => identity.chatLinks.userFor('slack', principal),
        startLink: (team, user) => identity.chatLinks.startLink('slack', team, user),
        logger: channelLog,
        failed: metrics.service.channelFailed,
      })
    : null;
  // Without endpoints or callbacks no change can produce a webhook: waking the worker on every
  // change would only query an empty outbox (its poll still drains anything left from before).
  const webhooksOn = webhookConfig.endpoints.length > 0 || webhookConfig.callbackSecrets.length > 0;
  const channels: Channel[] = [...(webhooksOn ? [webhooks.channel] : []), ...(slack ? [slack.channel] : [])];
  // --- end of Slack and webhook channels ------------------------------------------------------

  const service = new Service({
    store,
    policy: current,
    clock,
    notifier: new InProcessNotifier(),
    metrics: metrics.service,
    channels,
    logger: channelLog,
    principalGroups: principalGroupsFrom(directory, config.identity.groups),
  });
  const admin = new Admin(store, clock, 'countersign');
  // The server's logger exists only once the app is built; reload messages before that go nowhere.
  let log: Pick<FastifyInstance['log'], 'info' | 'error'> | null = null;
  reloader = new PolicyReloader(
    {
      files,
      clock,
      appendEvents: (events) => store.appendEvents(events),
      log: { info: (o, m) => log?.info(o, m), error: (o, m) => log?.error(o, m) },
    },
    policy,
  );
  // Every configuration a gateway runs on is an entry, secrets removed (docs/audit.md), followed
  // by the policy it starts with: one commit, so the log never holds one without the other.
  await store.appendEvents([
    {
      kind: 'config.loaded',
      at: clock.now(),
      requestId: null,
      subject: { type: 'system', id: 'countersign' },
      details: configLoadedDetails(config),
    },
    reloader.startupEvent(),
  ]);
  const signer = logSigner(
    key.privateKey,
    clock,
    config.audit.origin ?? undefined,
    config.audit.signingKeyFile,
  );
  const dev = config.dev ? await ensureDevCredentials(config.dataDir, admin, authenticator, directory) : null;
  const app = await buildApp({
    service,
    authenticator,
    metrics,
    bodyLimit: config.server.bodyLimit,
    maxWaitMs: config.server.maxWaitMs,
    callbackRefusal: callbackRefusal(webhookConfig),
    logLevel: config.server.logLevel,
    version,
    audit: { log: store.audit, verifierKey: signer.verifierKey },
    ready: async () => {
      await store.nextDeadline();
      // Reads can succeed while writes are stuck (a flush that never returns, a failing disk).
      await within(
        store.probeWrite(),
        readyWriteMs,
        `a store write did not complete within ${readyWriteMs} ms`,
      );
      current();
    },
  });
  await identity.register(app);
  // --- MCP gateway (docs/mcp.md): /mcp/NAME for every configured upstream. ---
  const mcp = config.mcp
    ? new McpGateway({
        config: config.mcp,
        service,
        authenticator,
        logger: app.log,
        version,
        preview: (actor, resource) => {
          try {
            const action = { type: 'mcp.tools.call', resource, params: {}, justification: '' };
            return current().evaluate({ action, actor, now: clock.now() }).decision;
          } catch {
            return null;
          }
        },
      })
    : null;
  await mcp?.mount(app);
  // --- end MCP gateway ---
  log = app.log;
  if (config.policyWatch) reloader.watch();
  const expirer = new Expirer(() => service.expireDue(), config.expirySweepMs, app.log);
  const checkpointer = new AuditCheckpointer(store.audit, signer, clock, {
    intervalMs: config.audit.checkpointIntervalMs,
    sinks: [
      ...(config.audit.publishDir ? [directorySink(config.audit.publishDir)] : []),
      ...config.audit.witnesses.map((url) => witnessSink(url)),
    ],
    onError: (err, where) => app.log.error({ err }, `audit ${where} failed`),
  });
  app.addHook('onReady', async () => {
    expirer.start();
    await checkpointer.checkpoint();
    checkpointer.start();
  });
  // --- Slack and webhook channels: routes and workers (issue 6) ---
  appLog = app.log;
  app.addHook('onReady', async () => webhooks.worker.start());
  if (slack) {
    await slack.attach(app, service);
    app.addHook('onReady', async () => slack.start());
  }
  // ---
  return {
    app,
    service,
    store,
    admin,
    authenticator,
    identity,
    directory,
    policy: current,
    reloadPolicy: (trigger) => (reloader as PolicyReloader).reload(trigger),
    dev,
    mcp,
    signingKeyCreated: key.created,
    webhooks,
    slack,
    checkpointer,
    async close() {
      expirer.stop();
      reloader?.close();
      await webhooks.worker.stop();
      await slack?.stop();
      await app.close();
      await mcp?.close();
      // Let the last writes reach the disk, so the final checkpoint covers every one of them.
      await store.writes.run(() => undefined);
      await checkpointer.stop();
      await store.close();
      releaseKey();
    },
  };
}
