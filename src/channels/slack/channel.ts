import type { Clock } from '../../core/clock.js';
import type { AuditEvent } from '../../core/event.js';
import type { ServiceLogger } from '../../service/service.js';
import type { SqliteSlackState } from '../../store/sqlite/slack.js';
import type { RequestSnapshot } from '../../store/store.js';
import type { Channel } from '../channel.js';
import { outcomeText, requestMessage } from './blocks.js';
import { type SlackConfig, targetsFor } from './config.js';
import { SlackApiError, type SlackWebApi } from './web-api.js';

export interface SlackChannelDeps {
  config: SlackConfig;
  api: SlackWebApi;
  state: SqliteSlackState;
  clock: Clock;
  audit: (events: AuditEvent[]) => Promise<void>;
  /** The Slack user of the requester's human, to mention in the outcome thread. */
  userFor?: (principal: string) => Promise<string | undefined> | string | undefined;
  /** Reads a request, for the resync sweep. */
  load: (id: string) => Promise<RequestSnapshot | undefined>;
  /** Counts a failure the service did not see (those of the resync sweep). */
  failed?: (channel: string) => void;
  logger?: ServiceLogger;
}

/** The resync sweep leaves alone anything younger than this: its first attempt may still be running. */
export const resyncGraceMs = 30_000;
const maxResyncBackoffMs = 3_600_000;

const shown = (snap: RequestSnapshot) => ({ status: snap.request.status, votes: snap.reviews.length });

/** Outcomes the requester's human is told about, once each. */
const told = new Set(['approved', 'rejected', 'expired', 'cancelled']);

/**
 * Posts a review message for each pending request and keeps it up to date. It only informs:
 * Slack being slow or down delays the message (retried with backoff, then logged and counted by
 * the service) but never changes a request, which stays pending and visible in the console.
 */
export class SlackChannel implements Channel {
  readonly name = 'slack';
  /** One chain per request so an update never overtakes the post it updates. */
  private readonly chains = new Map<string, Promise<void>>();
  /** Per request: failed resyncs so far and when to try again (by the injected clock). */
  private readonly backoff = new Map<string, { failures: number; next: number }>();

  constructor(private readonly deps: SlackChannelDeps) {}

  requestPending(snap: RequestSnapshot): Promise<void> {
    return this.serial(snap.request.id, () => this.post(snap));
  }

  requestUpdated(snap: RequestSnapshot): Promise<void> {
    return this.serial(snap.request.id, () => this.update(snap));
  }

  /** Waits for every queued post and update (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
  }

  private serial(id: string, work: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    const tracked = next.finally(() => {
      if (this.chains.get(id) === tracked) this.chains.delete(id);
    });
    this.chains.set(id, tracked);
    return tracked;
  }

  private async post(snap: RequestSnapshot): Promise<void> {
    const { config, api, state, clock } = this.deps;
    const targets = targetsFor(snap.request.policy.channels, config);
    if (targets === null) return; // the rule asks for other channels only
    if (targets.length === 0) {
      throw new Error('no Slack channel to post to: set slack.defaultChannels or name one in the rule');
    }
    const failures: string[] = [];
    const posted = new Set(state.messagesFor(snap.request.id).map((m) => m.target));
    for (const target of targets.filter((t) => !posted.has(t))) {
      try {
        const message = requestMessage(snap, clock.now(), config.requestUrl?.(snap.request.id) ?? null);
        const res = await api.call('chat.postMessage', { channel: target, ...message, unfurl_links: false });
        const ref = { requestId: snap.request.id, target, channel: String(res.channel), ts: String(res.ts) };
        await state.saveMessage(ref, shown(snap), clock.now());
        await this.notified(snap, target, ref.ts);
      } catch (error) {
        failures.push(`${target}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(`Slack post failed for ${failures.join('; ')}`);
  }

  private async update(snap: RequestSnapshot): Promise<void> {
    const { config, api, state, clock } = this.deps;
    const refs = state.messagesFor(snap.request.id);
    const failures: string[] = [];
    for (const ref of refs) {
      try {
        const message = requestMessage(snap, clock.now(), config.requestUrl?.(snap.request.id) ?? null);
        await api.call('chat.update', { channel: ref.channel, ts: ref.ts, ...message });
        await state.markRendered(ref, shown(snap), clock.now());
      } catch (error) {
        failures.push(`${ref.channel}: ${(error as Error).message}`);
      }
    }
    const first = refs[0];
    if (first && told.has(snap.request.status)) await this.tellRequester(snap, first);
    if (failures.length > 0) throw new Error(`Slack update failed for ${failures.join('; ')}`);
  }

  /**
   * Repairs what failed: posts pending requests that have no message (Slack was down through
   * every retry, or the process stopped between commit and post) and updates messages that no
   * longer show their request's state. Run on a timer; each request backs off on failure.
   */
  async resync(limit = 100): Promise<number> {
    const { state, clock } = this.deps;
    const now = clock.now();
    const due = (id: string) => (this.backoff.get(id)?.next ?? 0) <= now;
    const work = [
      ...state.unposted(now - resyncGraceMs, limit).map((id) => ({ id, pending: true })),
      ...state.stale(now - resyncGraceMs, limit).map((id) => ({ id, pending: false })),
    ].filter((w) => due(w.id));
    let repaired = 0;
    for (const { id, pending } of work) {
      const snap = await this.deps.load(id);
      if (!snap) continue;
      if (pending && targetsFor(snap.request.policy.channels, this.deps.config) === null) {
        await state.skip(id, now); // not for Slack: keep it out of the next sweeps
        continue;
      }
      try {
        await (pending ? this.requestPending(snap) : this.requestUpdated(snap));
        this.backoff.delete(id);
        repaired++;
      } catch (error) {
        const failures = (this.backoff.get(id)?.failures ?? 0) + 1;
        const wait = Math.min(maxResyncBackoffMs, resyncGraceMs * 2 ** (failures - 1));
        this.backoff.set(id, { failures, next: now + wait });
        this.deps.failed?.('slack');
        this.deps.logger?.warn(
          { err: (error as Error).message, request: id },
          'Slack resync failed; will retry',
        );
      }
    }
    return repaired;
  }

  private async tellRequester(snap: RequestSnapshot, ref: { channel: string; ts: string }): Promise<void> {
    const key = `told:${snap.request.id}:${snap.request.status}`;
    if (!(await this.deps.state.first(key, this.deps.clock.now(), 90 * 86_400_000))) return;
    const principal = snap.request.requester.principal;
    const mention = principal
      ? ((await Promise.resolve(this.deps.userFor?.(principal)).catch(() => undefined)) ?? null)
      : null;
    await this.deps.api.call('chat.postMessage', {
      channel: ref.channel,
      thread_ts: ref.ts,
      text: outcomeText(snap, mention),
    });
  }

  private async notified(snap: RequestSnapshot, target: string, ts: string): Promise<void> {
    await this.deps
      .audit([
        {
          kind: 'request.notified',
          at: this.deps.clock.now(),
          requestId: snap.request.id,
          subject: { type: 'system', id: 'countersign' },
          details: { channel: 'slack', to: target, ts },
        },
      ])
      .catch((error: unknown) =>
        this.deps.logger?.error(
          { err: error instanceof SlackApiError ? error.message : error, request: snap.request.id },
          'audit append failed',
        ),
      );
  }
}
