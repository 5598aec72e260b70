import picomatch from 'picomatch';
import type { Channel } from '../channels/channel.js';
import { type Action, actionHash, type Json } from '../core/action.js';
import type { Cancellation } from '../core/cancel.js';
import type { Clock } from '../core/clock.js';
import { CountersignError, isCountersignError } from '../core/errors.js';
import type { AuditEvent, EventSubject } from '../core/event.js';
import type { Actor, Reviewer } from '../core/identity.js';
import * as lifecycle from '../core/lifecycle.js';
import type { ActionRequest, RequestStatus, Review, Vote } from '../core/request.js';
import { checkVote, eligibleGroups, isSelfReview } from '../core/review.js';
import type { Evaluation, Policy } from '../policy/types.js';
import type {
  Decision,
  MutateOptions,
  Mutation,
  RequestSnapshot,
  Store,
  WriteOptions,
} from '../store/store.js';
import { newId } from '../util/ids.js';
import type { Notifier } from './notifier.js';

export interface SubmitInput {
  type: string;
  resource: string;
  params: { [key: string]: Json };
  justification: string;
  callbackUrl?: string;
}

export interface ServiceLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Counters the service reports; the server backs them with Prometheus metrics. */
export interface ServiceMetrics {
  submitted(status: RequestStatus): void;
  transitioned(to: RequestStatus): void;
  channelFailed(channel: string): void;
}

export interface ServiceDeps {
  store: Store;
  /** The current policy; a function so a reload swaps it without restarting. */
  policy: () => Policy;
  clock: Clock;
  notifier: Notifier;
  channels?: Channel[];
  logger?: ServiceLogger;
  metrics?: ServiceMetrics;
  /** Groups of the human behind an actor, for `principal.groups` rules; none when unknown. */
  principalGroups?: (principal: string) => string[];
}

/** Pending requests read per store query while paging a reviewer's queue, and per page at most. */
const pendingScanStep = 200;
const pendingScanMax = 1000;

const actorSubject = (a: Actor): EventSubject => ({ type: 'actor', id: a.id });
const reviewerSubject = (r: Reviewer): EventSubject => ({ type: 'reviewer', id: r.id });
const system: EventSubject = { type: 'system', id: 'countersign' };

/**
 * Votes refused for who the reviewer is, recorded as `review.refused`: an attempt to approve one's
 * own request, to approve from outside the approver groups, or to count twice. A vote that only
 * came late (the request was already decided) or needs a fresher login is not.
 */
const recordedRefusals = new Set<string>([
  'CS_ERR_SELF_APPROVAL',
  'CS_ERR_NOT_ELIGIBLE',
  'CS_ERR_ALREADY_VOTED',
]);

function refusedVote(
  error: CountersignError,
  request: ActionRequest,
  reviewer: Reviewer,
  vote: Vote,
  via: string,
  at: number,
): AuditEvent {
  return {
    kind: 'review.refused',
    at,
    requestId: request.id,
    subject: reviewerSubject(reviewer),
    details: {
      code: error.code,
      reason: error.message,
      vote,
      email: reviewer.email,
      via,
      hash: request.hash,
    },
  };
}

/**
 * The one place that changes state. Every change is a compare-and-set in the store, written in
 * the same transaction as the audit events that record it; waiters and channels hear of it only
 * after it is committed.
 */
export class Service {
  private readonly channels: Channel[];

  constructor(private readonly deps: ServiceDeps) {
    this.channels = deps.channels ?? [];
  }

  get clock(): Clock {
    return this.deps.clock;
  }

  async submit(
    actor: Actor,
    input: SubmitInput,
    allowedTypes: string[] | null = null,
  ): Promise<ActionRequest> {
    return (await this.create(actor, input, allowedTypes, false)).request;
  }

  /**
   * Submits as `submit` does, for a caller that runs an allowed action itself and tells nobody
   * anything about it before `durable` settles: the MCP gateway. An allowed request is answered
   * once committed, so the caller can start the action while the store flushes its record;
   * `durable` settles with that flush, and rejects with CS_ERR_UNAVAILABLE if it fails. Every
   * other decision, and an allowed one while the store's disk is not known good, is answered after
   * its flush, as by `submit`, with `durable` already resolved (decision 0014).
   */
  submitToRun(
    actor: Actor,
    input: SubmitInput,
    allowedTypes: string[] | null = null,
  ): Promise<{ request: ActionRequest; durable: Promise<void> }> {
    return this.create(actor, input, allowedTypes, true);
  }

  private async create(
    actor: Actor,
    input: SubmitInput,
    allowedTypes: string[] | null,
    toRun: boolean,
  ): Promise<{ request: ActionRequest; durable: Promise<void> }> {
    if (allowedTypes && !picomatch.isMatch(input.type, allowedTypes)) {
      throw new CountersignError(
        'CS_ERR_FORBIDDEN',
        `${actor.via === 'jwt' ? 'tokens of this issuer' : 'this agent key'} may not submit actions of type ${input.type} (allowed: ${allowedTypes.join(', ')})`,
      );
    }
    const now = this.deps.clock.now();
    const action: Action = {
      type: input.type,
      resource: input.resource,
      params: input.params,
      justification: input.justification,
    };
    const policy = this.currentPolicy();
    const evaluation = this.evaluate(policy, action, actor, now);
    const request = this.newRequest(actor, action, policy.version, evaluation, now, input.callbackUrl);
    const event: AuditEvent = {
      kind: 'request.submitted',
      at: now,
      requestId: request.id,
      subject: actorSubject(actor),
      details: {
        action: { ...action },
        hash: request.hash,
        status: request.status,
        actor: {
          id: actor.id,
          name: actor.name,
          principal: actor.principal,
          via: actor.via,
          onBehalfOf: actor.onBehalfOf ?? [],
        },
        policy: {
          version: policy.version,
          rule: evaluation.rule,
          decision: evaluation.decision,
          reason: evaluation.reason,
        },
        requirement: request.requirement as unknown as Json,
        expiresAt: request.expiresAt,
        validUntil: request.validUntil,
      },
    };
    let durable = Promise.resolve();
    const options =
      toRun && request.status === 'allowed'
        ? {
            answerAtCommit: (flushed: Promise<void>) => {
              durable = flushed;
            },
          }
        : undefined;
    await this.deps.store.createRequest(request, [event], options);
    this.deps.metrics?.submitted(request.status);
    if (request.status === 'pending') this.tellChannels({ request, reviews: [] }, 'pending');
    return { request, durable };
  }

  private currentPolicy(): Policy {
    try {
      return this.deps.policy();
    } catch (error) {
      this.deps.logger?.error({ err: error }, 'no policy is loaded; refusing every action');
      throw new CountersignError('CS_ERR_POLICY', 'no valid policy is loaded');
    }
  }

  /** Fail closed: a policy that throws decides nothing and allows nothing. */
  private evaluate(policy: Policy, action: Action, actor: Actor, now: number): Evaluation {
    try {
      const groups =
        actor.principal && this.deps.principalGroups ? this.deps.principalGroups(actor.principal) : [];
      return policy.evaluate({ action, actor, now, principalGroups: groups });
    } catch (error) {
      this.deps.logger?.error(
        { err: error, policy: policy.version },
        'policy evaluation failed; refusing the action',
      );
      throw new CountersignError('CS_ERR_POLICY', 'the policy could not be evaluated for this action');
    }
  }

  private newRequest(
    actor: Actor,
    action: Action,
    version: string,
    ev: Evaluation,
    now: number,
    callbackUrl?: string,
  ): ActionRequest {
    const status: RequestStatus =
      ev.decision === 'allow' ? 'allowed' : ev.decision === 'deny' ? 'denied' : 'pending';
    return {
      id: newId('req', now),
      status,
      action,
      hash: actionHash(action),
      requester: actor,
      policy: {
        version,
        rule: ev.rule,
        reason: ev.message ? `${ev.reason}: ${ev.message}` : ev.reason,
        decision: ev.decision,
        ...(ev.channels ? { channels: ev.channels } : {}),
        ...(ev.facts ? { facts: ev.facts } : {}),
      },
      requirement: status === 'pending' ? ev.requirement : null,
      timers: ev.timers,
      createdAt: now,
      updatedAt: now,
      expiresAt: status === 'pending' ? now + ev.timers.pendingTtlMs : null,
      decidedAt: status === 'pending' ? null : now,
      validUntil: status === 'allowed' ? now + ev.timers.approvalValidityMs : null,
      result: null,
      callbackUrl: callbackUrl ?? null,
      version: 1,
    };
  }

  async get(id: string): Promise<RequestSnapshot> {
    const snap = await this.deps.store.getRequest(id);
    if (!snap) throw new CountersignError('CS_ERR_NOT_FOUND', `no request ${id}`);
    return snap;
  }

  /** A snapshot only its actor, or a reviewer, may read. */
  async getFor(id: string, caller: { actor?: Actor; reviewer?: Reviewer }): Promise<RequestSnapshot> {
    const snap = await this.deps.store.getRequest(id);
    if (!snap || (caller.actor && snap.request.requester.id !== caller.actor.id)) {
      throw new CountersignError('CS_ERR_NOT_FOUND', `no request ${id}`);
    }
    return snap;
  }

  async review(
    id: string,
    reviewer: Reviewer,
    vote: Vote,
    comment: string,
    via: string,
  ): Promise<RequestSnapshot> {
    const snap = await this.change(id, ({ request, reviews }): Decision<RequestSnapshot> => {
      const now = this.deps.clock.now();
      if (lifecycle.isDue(request, now)) {
        return {
          mutation: this.expiry(request, now),
          error: new CountersignError('CS_ERR_NOT_PENDING', `request ${id} expired before this vote`, {
            requestStatus: 'expired',
          }),
        };
      }
      let checked: ReturnType<typeof checkVote>;
      try {
        checked = checkVote(request, reviews, { reviewer, vote, comment, via }, now);
      } catch (error) {
        if (!isCountersignError(error) || !recordedRefusals.has(error.code)) throw error;
        // Separation of duties is evidence only if its refusals are on record too.
        return { mutation: { events: [refusedVote(error, request, reviewer, vote, via, now)] }, error };
      }
      const { review, outcome } = checked;
      const events: AuditEvent[] = [
        {
          kind: 'review.cast',
          at: now,
          requestId: id,
          subject: reviewerSubject(reviewer),
          details: { vote, comment, groups: review.groups, email: reviewer.email, via, hash: request.hash },
        },
      ];
      let next = { ...request, updatedAt: now, version: request.version + 1 };
      if (outcome !== 'pending') {
        next = outcome === 'approved' ? lifecycle.approve(request, now) : lifecycle.reject(request, now);
        events.push({
          kind: outcome === 'approved' ? 'request.approved' : 'request.rejected',
          at: now,
          requestId: id,
          subject: reviewerSubject(reviewer),
          details: {
            hash: request.hash,
            reviewers: [...reviews, review].map((r) => ({ id: r.reviewerId, vote: r.vote })),
            validUntil: next.validUntil,
          },
        });
      }
      const after = { request: next, reviews: [...reviews, review] };
      return { mutation: { request: next, review, events }, value: after };
    });
    this.tellChannels(snap, 'updated');
    return snap;
  }

  async cancel(id: string, actor: Actor): Promise<ActionRequest> {
    const request = await this.change(id, ({ request }) => {
      if (request.requester.id !== actor.id)
        throw new CountersignError('CS_ERR_NOT_FOUND', `no request ${id}`);
      const now = this.deps.clock.now();
      const next = lifecycle.cancel(request, now);
      const event: AuditEvent = {
        kind: 'request.cancelled',
        at: now,
        requestId: id,
        subject: actorSubject(actor),
        details: { hash: request.hash },
      };
      return { mutation: { request: next, events: [event] }, value: next };
    });
    void this.afterChange(id);
    return request;
  }

  /**
   * `result.startedAt` is for runners inside this process (the MCP gateway), which checked the
   * validity window themselves when they started; an agent's own report (the HTTP API) never
   * carries it and must arrive within the window. `options.known` is the request as the caller
   * received it from `submit`, untouched since: a request that was `allowed` there has no reviews,
   * so the store can decide on it without reading the row back (see MutateOptions).
   */
  async recordResult(
    id: string,
    actor: Actor,
    result: { outcome: 'succeeded' | 'failed'; detail: string; hash: string; startedAt?: number },
    options?: WriteOptions & { known?: ActionRequest },
  ): Promise<ActionRequest> {
    const { known, ...write } = options ?? {};
    const mutate: MutateOptions =
      known?.id === id && known.status === 'allowed'
        ? { ...write, known: { request: known, reviews: [] } }
        : write;
    // The snapshot the change produced goes to the channels, as for a vote: reading it back
    // would cost a read and a parse on every executed call.
    const snap = await this.change(
      id,
      ({ request, reviews }) => {
        if (request.requester.id !== actor.id)
          throw new CountersignError('CS_ERR_NOT_FOUND', `no request ${id}`);
        const now = this.deps.clock.now();
        const next = lifecycle.recordResult(
          request,
          result.hash,
          { outcome: result.outcome, detail: result.detail },
          now,
          result.startedAt,
        );
        const event: AuditEvent = {
          kind: next.status === 'executed' ? 'request.executed' : 'request.failed',
          at: now,
          requestId: id,
          subject: actorSubject(actor),
          details: {
            hash: result.hash,
            outcome: result.outcome,
            detail: result.detail,
            ...(result.startedAt === undefined ? {} : { startedAt: result.startedAt }),
          },
        };
        return { mutation: { request: next, events: [event] }, value: { request: next, reviews } };
      },
      mutate,
    );
    this.tellChannels(snap, 'updated');
    return snap.request;
  }

  private expiry(request: ActionRequest, now: number): Mutation {
    return {
      request: lifecycle.expire(request, now),
      events: [
        {
          kind: 'request.expired',
          at: now,
          requestId: request.id,
          subject: system,
          details: { hash: request.hash, expiresAt: request.expiresAt },
        },
      ],
    };
  }

  /** Expires every pending request whose TTL has passed. Safe to run on every replica at once. */
  async expireDue(limit = 500): Promise<number> {
    const now = this.deps.clock.now();
    const ids = await this.deps.store.dueRequests(now, limit);
    let expired = 0;
    for (const id of ids) {
      const done = await this.change(id, ({ request }) =>
        lifecycle.isDue(request, now)
          ? { mutation: this.expiry(request, now), value: true }
          : { mutation: null, value: false },
      );
      if (done) {
        expired++;
        void this.afterChange(id);
      }
    }
    return expired;
  }

  /**
   * Waits until the request leaves `pending`, `waitMs` passes or `signal` aborts, woken by the
   * notifier rather than by polling. A wake-up that changed nothing decisive (a first vote of two)
   * goes back to waiting. Returns the state at that moment.
   */
  async waitForDecision(
    id: string,
    caller: { actor?: Actor; reviewer?: Reviewer },
    waitMs: number,
    signal?: Cancellation,
  ): Promise<ActionRequest> {
    const deadline = Date.now() + waitMs;
    // A change published while a read is in flight (after its snapshot) must not be lost: it is
    // noted, and the next round reads again instead of waiting.
    let changed = false;
    const note = () => {
      changed = true;
    };
    let wake: () => void = note;
    const unsubscribe = this.deps.notifier.subscribe(id, () => wake());
    const aborted = () => wake();
    signal?.addEventListener('abort', aborted, { once: true });
    try {
      let { request } = await this.getFor(id, caller);
      while (request.status === 'pending' && !signal?.aborted) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        // The expiry sweeper publishes when it expires the request; the +5 ms covers a sweep that lags.
        const untilExpiry =
          request.expiresAt === null ? left : Math.max(0, request.expiresAt - this.deps.clock.now()) + 5;
        if (!changed)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(left, untilExpiry));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        changed = false;
        wake = note;
        request = (await this.get(id)).request;
        if (request.status === 'pending' && lifecycle.isDue(request, this.deps.clock.now())) {
          await this.expireDue();
          request = (await this.get(id)).request;
        }
      }
      return request;
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', aborted);
    }
  }

  /**
   * One page of the pending requests this reviewer may vote on (eligible, not their own, not yet
   * voted on), newest first. `next` is the cursor for the following page, or null when no older
   * pending request is left. One page reads at most `scanMax` pending requests, so a reviewer
   * eligible for few of very many does not make one call read them all: such a page may hold
   * fewer than `limit` items, even none, while `next` is not null.
   */
  async pendingFor(
    reviewer: Reviewer,
    page: { limit: number; before?: string | undefined; scanMax?: number },
  ): Promise<{ items: RequestSnapshot[]; next: string | null }> {
    const scanMax = page.scanMax ?? pendingScanMax;
    const now = this.deps.clock.now();
    const items: RequestSnapshot[] = [];
    let before = page.before;
    for (let scanned = 0; scanned < scanMax; ) {
      const step = Math.min(pendingScanStep, scanMax - scanned);
      const batch = await this.deps.store.listRequests({
        status: ['pending'],
        limit: step,
        ...(before ? { before } : {}),
      });
      for (const request of batch) {
        scanned++;
        before = request.id;
        const snap = await this.votable(request, reviewer, now);
        if (!snap) continue;
        // One more than asked exists: the page is full and there is a next one.
        if (items.length === page.limit) return { items, next: items[items.length - 1]?.request.id ?? null };
        items.push(snap);
      }
      if (batch.length < step) return { items, next: null };
    }
    return { items, next: before ?? null };
  }

  /** The request with its reviews when this reviewer may vote on it now, else undefined. */
  private async votable(
    request: ActionRequest,
    reviewer: Reviewer,
    now: number,
  ): Promise<RequestSnapshot | undefined> {
    if (!request.requirement || lifecycle.isDue(request, now) || isSelfReview(request, reviewer)) return;
    const groups = eligibleGroups(request.requirement);
    if (!reviewer.groups.some((g) => groups.has(g))) return;
    const snap = await this.deps.store.getRequest(request.id);
    if (!snap || snap.reviews.some((r: Review) => r.reviewerId === reviewer.id)) return;
    return snap;
  }

  async list(query: {
    status?: RequestStatus[];
    actorId?: string;
    limit: number;
    before?: string;
  }): Promise<ActionRequest[]> {
    return this.deps.store.listRequests(query);
  }

  async trail(id: string) {
    return this.deps.store.eventsForRequest(id);
  }

  private async change<T>(
    id: string,
    decide: (snap: RequestSnapshot) => Decision<T>,
    options?: MutateOptions,
  ): Promise<T> {
    try {
      return await this.deps.store.mutate(id, decide, options);
    } finally {
      // Wake waiters whatever happened: a refused vote may still have expired the request.
      this.deps.notifier.publish(id);
    }
  }

  private async afterChange(id: string): Promise<void> {
    const snap = await this.deps.store.getRequest(id).catch(() => undefined);
    if (snap) this.tellChannels(snap, 'updated');
  }

  private tellChannels(snap: RequestSnapshot, what: 'pending' | 'updated'): void {
    if (what === 'updated' && snap.request.status !== 'pending')
      this.deps.metrics?.transitioned(snap.request.status);
    for (const channel of this.channels) {
      const call = what === 'pending' ? channel.requestPending(snap) : channel.requestUpdated(snap);
      call.catch((error: unknown) => {
        this.deps.metrics?.channelFailed(channel.name);
        this.deps.logger?.warn(
          {
            err: isCountersignError(error) ? error.message : error,
            channel: channel.name,
            request: snap.request.id,
          },
          'channel failed; the request stays as it is',
        );
      });
    }
  }
}
