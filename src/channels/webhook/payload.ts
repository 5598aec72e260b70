import type { AuditEvent } from '../../core/event.js';
import type { ActionRequest, Review } from '../../core/request.js';

export const webhookEvents = [
  'request.pending',
  'request.approved',
  'request.rejected',
  'request.expired',
  'request.cancelled',
  'request.executed',
] as const;
export type WebhookEvent = (typeof webhookEvents)[number];

/** The audit event kinds that can become webhook events (see webhookEventFor). */
export const capturedKinds = [
  'request.submitted',
  'request.approved',
  'request.rejected',
  'request.expired',
  'request.cancelled',
  'request.executed',
  'request.failed',
] as const;

/**
 * The webhook event an audit event stands for, if any. `request.failed` (the action ran and
 * failed) is sent as `request.executed` with `result.outcome: failed`: to a receiver both mean
 * "the action ran", and the result says how it went.
 */
export function webhookEventFor(e: Pick<AuditEvent, 'kind' | 'details'>): WebhookEvent | null {
  switch (e.kind) {
    case 'request.submitted':
      return e.details.status === 'pending' ? 'request.pending' : null;
    case 'request.approved':
    case 'request.rejected':
    case 'request.expired':
    case 'request.cancelled':
    case 'request.executed':
      return e.kind;
    case 'request.failed':
      return 'request.executed';
    default:
      return null;
  }
}

const iso = (t: number | null | undefined): string | null =>
  t === null || t === undefined ? null : new Date(t).toISOString();

/**
 * The body of one webhook: `{type, timestamp, data}` as Standard Webhooks recommends. Built once
 * when the event is written, so every retry sends byte-identical content under the same id.
 */
export function webhookPayload(type: WebhookEvent, at: number, r: ActionRequest, reviews: Review[]): string {
  return JSON.stringify({
    type,
    timestamp: new Date(at).toISOString(),
    data: {
      id: r.id,
      status: r.status,
      hash: r.hash,
      rule: r.policy.rule,
      action: {
        type: r.action.type,
        resource: r.action.resource,
        params: r.action.params,
        justification: r.action.justification,
      },
      requester: { actor: r.requester.id, name: r.requester.name, principal: r.requester.principal },
      reviews: reviews.map((v) => ({
        reviewer: v.reviewerId,
        name: v.reviewerName,
        vote: v.vote,
        comment: v.comment,
        via: v.via,
        at: iso(v.at),
      })),
      createdAt: iso(r.createdAt),
      expiresAt: iso(r.expiresAt),
      decidedAt: iso(r.decidedAt),
      validUntil: iso(r.validUntil),
      result: r.result ? { outcome: r.result.outcome, detail: r.result.detail, at: iso(r.result.at) } : null,
    },
  });
}
