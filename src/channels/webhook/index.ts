import type { Clock } from '../../core/clock.js';
import type { AuditEvent } from '../../core/event.js';
import type { ServiceLogger } from '../../service/service.js';
import type { SqliteStore } from '../../store/sqlite/index.js';
import { type Derive, type OutboxMessage, SqliteOutbox } from '../../store/sqlite/outbox.js';
import type { RequestSnapshot } from '../../store/store.js';
import { newId } from '../../util/ids.js';
import type { Channel } from '../channel.js';
import type { WebhooksConfig } from './config.js';
import { capturedKinds, webhookEventFor, webhookPayload } from './payload.js';
import { DeliveryWorker, type Poster } from './worker.js';

/** The messages one committed audit event produces: one per subscribed endpoint, plus the callback. */
export function deriveMessages(config: WebhooksConfig): Derive {
  return (event: AuditEvent, load: () => RequestSnapshot | undefined): OutboxMessage[] => {
    const type = webhookEventFor(event);
    if (!type) return [];
    const snap = load();
    if (!snap) return [];
    const payload = webhookPayload(type, event.at, snap.request, snap.reviews);
    const base = { eventType: type, requestId: snap.request.id, payload };
    // A rule's `channels` (absent: all) may leave webhooks out, or name endpoints (`webhook:<id>`).
    // A callback is the actor's own request and is always sent.
    const ruled = snap.request.policy.channels;
    const wanted = (id: string) =>
      ruled === undefined || ruled.includes('webhook') || ruled.includes(`webhook:${id}`);
    const out: OutboxMessage[] = config.endpoints
      .filter((e) => e.events.includes(type) && wanted(e.id))
      .map((e) => ({ ...base, id: newId('msg', event.at), target: e.id, url: e.url }));
    const callback = snap.request.callbackUrl;
    if (callback && config.callbackSecrets.length > 0) {
      out.push({ ...base, id: newId('msg', event.at), target: 'callback', url: callback });
    }
    return out;
  };
}

/**
 * The webhook channel. Messages are already in the outbox when the service calls it (they commit
 * with the state change), so all it does is wake the delivery worker.
 */
export class WebhookChannel implements Channel {
  readonly name = 'webhook';
  constructor(private readonly worker: DeliveryWorker) {}
  async requestPending(): Promise<void> {
    this.worker.kick();
  }
  async requestUpdated(): Promise<void> {
    this.worker.kick();
  }
}

export interface Webhooks {
  channel: WebhookChannel;
  worker: DeliveryWorker;
  outbox: SqliteOutbox;
}

export function createWebhooks(deps: {
  config: WebhooksConfig;
  store: SqliteStore;
  clock: Clock;
  logger?: ServiceLogger;
  failed?: (channel: string) => void;
  random?: () => number;
  post?: Poster;
}): Webhooks {
  const outbox = new SqliteOutbox(deps.store);
  // Nothing configured: no per-commit cost at all, and no history replayed if it is configured later.
  if (deps.config.endpoints.length > 0 || deps.config.callbackSecrets.length > 0) {
    outbox.capture(capturedKinds, deriveMessages(deps.config), () => deps.clock.now());
  } else {
    outbox.idle();
  }
  const worker = new DeliveryWorker({
    outbox,
    config: deps.config,
    clock: deps.clock,
    audit: (events) => deps.store.appendEvents(events),
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.failed ? { failed: deps.failed } : {}),
    ...(deps.random ? { random: deps.random } : {}),
    ...(deps.post ? { post: deps.post } : {}),
  });
  return { channel: new WebhookChannel(worker), worker, outbox };
}
