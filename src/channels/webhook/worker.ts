import type { Clock } from '../../core/clock.js';
import type { AuditEvent } from '../../core/event.js';
import type { ServiceLogger } from '../../service/service.js';
import type { OutboxRow, SqliteOutbox } from '../../store/sqlite/outbox.js';
import type { WebhooksConfig } from './config.js';
import { DestinationError, origin, type PostResult, postJson } from './http.js';
import { webhookHeaders } from './sign.js';
import { AddressPolicy, SsrfError } from './ssrf.js';

export type Poster = typeof postJson;

export interface WorkerDeps {
  outbox: SqliteOutbox;
  config: WebhooksConfig;
  clock: Clock;
  /** Appends `request.notified` when a message is delivered. */
  audit: (events: AuditEvent[]) => Promise<void>;
  logger?: ServiceLogger;
  failed?: (channel: string) => void;
  /** Injected in tests to take jitter out of the schedule. */
  random?: () => number;
  post?: Poster;
}

/** Settled messages are kept this long for inspection, then pruned (at most hourly). */
export const retentionMs = 30 * 86_400_000;
const pruneEveryMs = 3_600_000;

/** Longest a receiver's Retry-After can push one attempt back. */
const maxRetryAfterMs = 24 * 3_600_000;

/** Exponential backoff with equal jitter: half the step fixed, half random, never above the cap. */
export function backoff(attempts: number, baseMs: number, maxMs: number, random: () => number): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(step / 2 + (step / 2) * random());
}

type Outcome =
  | { kind: 'delivered' }
  | { kind: 'gone' }
  | { kind: 'permanent'; error: string }
  | { kind: 'retry'; error: string; retryAfterMs: number | null };

function classify(result: PostResult): Outcome {
  if (result.status >= 200 && result.status < 300) return { kind: 'delivered' };
  if (result.status === 410) return { kind: 'gone' };
  return {
    kind: 'retry',
    error: `the receiver answered ${result.status}`,
    retryAfterMs: result.retryAfterMs,
  };
}

/**
 * Sends due outbox messages. Each attempt is leased first, so replicas never send one message
 * twice at once; a crash mid-attempt leaves the lease to run out and the message is sent again
 * (at-least-once, same `webhook-id`). Tests call `runOnce` directly with a manual clock.
 */
export class DeliveryWorker {
  private readonly addresses: AddressPolicy;
  private readonly post: Poster;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | null = null;
  private prunedAt = Number.NEGATIVE_INFINITY;
  private again = false;

  constructor(private readonly deps: WorkerDeps) {
    this.addresses = new AddressPolicy(deps.config.allowPrivateNetworks);
    this.post = deps.post ?? postJson;
    this.random = deps.random ?? Math.random;
  }

  private secretsFor(row: OutboxRow): string[] {
    if (row.target === 'callback') return this.deps.config.callbackSecrets;
    return this.deps.config.endpoints.find((e) => e.id === row.target)?.secrets ?? [];
  }

  /** Sends every message due now; returns how many were delivered. */
  async runOnce(limit = 100): Promise<number> {
    const now = this.deps.clock.now();
    if (now - this.prunedAt >= pruneEveryMs) {
      this.prunedAt = now;
      await this.deps.outbox.prune(now - retentionMs);
    }
    const leaseMs = this.deps.config.timeoutMs * 2 + 1000;
    let delivered = 0;
    const rows = this.deps.outbox.due(now, limit);
    await Promise.all(
      rows.map(async (row) => {
        if (!(await this.deps.outbox.claim(row.id, now, leaseMs))) return;
        if (await this.attempt(row)) delivered++;
      }),
    );
    return delivered;
  }

  private async attempt(row: OutboxRow): Promise<boolean> {
    const secrets = this.secretsFor(row);
    const attempts = row.attempts + 1;
    const log = { webhook: row.id, target: row.target, to: origin(row.url), event: row.eventType, attempts };
    if (secrets.length === 0) {
      await this.deps.outbox.fail(
        row.id,
        attempts,
        'no signing secret is configured for this target any more',
      );
      return false;
    }
    let outcome: Outcome;
    try {
      const now = this.deps.clock.now();
      const headers = webhookHeaders(secrets, row.id, now, row.payload);
      const { allowHttp, timeoutMs } = this.deps.config;
      outcome = classify(
        await this.post(row.url, headers, row.payload, {
          addresses: this.addresses,
          allowHttp,
          timeoutMs,
          now,
        }),
      );
    } catch (error) {
      const message = (error as Error).message;
      outcome =
        error instanceof SsrfError || error instanceof DestinationError
          ? { kind: 'permanent', error: message }
          : { kind: 'retry', error: message, retryAfterMs: null };
    }
    return this.settle(row, attempts, outcome, log);
  }

  private async settle(row: OutboxRow, attempts: number, outcome: Outcome, log: object): Promise<boolean> {
    const { outbox, clock, config } = this.deps;
    const now = clock.now();
    switch (outcome.kind) {
      case 'delivered':
        await outbox.delivered(row.id, now, attempts);
        await this.notified(row, attempts, now);
        return true;
      case 'gone':
        await outbox.disable(row.target, row.url, row.requestId, now, 'the receiver answered 410 Gone');
        this.deps.logger?.warn(log, 'webhook receiver answered 410 Gone; target disabled');
        return false;
      case 'permanent':
        await outbox.fail(row.id, attempts, outcome.error);
        this.deps.failed?.('webhook');
        this.deps.logger?.error({ ...log, reason: outcome.error }, 'webhook refused; not retried');
        return false;
      case 'retry': {
        if (attempts >= config.maxAttempts) {
          await outbox.fail(row.id, attempts, outcome.error);
          this.deps.failed?.('webhook');
          this.deps.logger?.error({ ...log, reason: outcome.error }, 'webhook failed after the last attempt');
          return false;
        }
        const wait = Math.max(
          backoff(attempts, config.retryBaseMs, config.retryMaxMs, this.random),
          Math.min(outcome.retryAfterMs ?? 0, maxRetryAfterMs),
        );
        await outbox.retry(row.id, attempts, now + wait, outcome.error);
        this.deps.logger?.warn({ ...log, reason: outcome.error, retryInMs: wait }, 'webhook attempt failed');
        return false;
      }
    }
  }

  private async notified(row: OutboxRow, attempts: number, now: number): Promise<void> {
    if (!row.requestId) return;
    await this.deps
      .audit([
        {
          kind: 'request.notified',
          at: now,
          requestId: row.requestId,
          subject: { type: 'system', id: 'countersign' },
          details: {
            channel: 'webhook',
            target: row.target,
            to: origin(row.url),
            event: row.eventType,
            webhookId: row.id,
            attempts,
          },
        },
      ])
      .catch((error: unknown) =>
        this.deps.logger?.error({ err: error, webhook: row.id }, 'audit append failed'),
      );
  }

  /** Asks for a run soon (after a commit that may have queued messages); only once started. */
  kick(): void {
    if (!this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.runOnce()
      .catch((error: unknown) => {
        this.deps.logger?.error({ err: error }, 'webhook delivery run failed; will retry');
        return 0;
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Polls for due messages (retries, and anything left by a restart). */
  start(intervalMs = 1000): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.again = false;
    await this.running;
  }
}
