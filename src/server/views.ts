import type { StoredEvent } from '../core/event.js';
import { progress } from '../core/review.js';
import type { RequestSnapshot } from '../store/store.js';
import type { ActionViewT } from './schemas.js';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

/** The API's view of a request: what agents and reviewers need, in JSON-friendly form. */
export function actionView({ request: r, reviews }: RequestSnapshot): ActionViewT {
  return {
    id: r.id,
    status: r.status,
    hash: r.hash,
    rule: r.policy.rule,
    reason: r.policy.reason,
    policyVersion: r.policy.version,
    action: {
      type: r.action.type,
      resource: r.action.resource,
      params: r.action.params,
      justification: r.action.justification,
    },
    requester: {
      actor: r.requester.id,
      name: r.requester.name,
      principal: r.requester.principal,
      onBehalfOf: r.requester.onBehalfOf ?? [],
      via: r.requester.via,
    },
    quorum: r.requirement
      ? { anyOf: progress(r.requirement, reviews), denyThreshold: r.requirement.denyThreshold }
      : null,
    reviews: reviews.map((v) => ({
      reviewer: v.reviewerId,
      email: v.reviewerEmail,
      name: v.reviewerName,
      vote: v.vote,
      comment: v.comment,
      groups: v.groups,
      via: v.via,
      at: new Date(v.at).toISOString(),
    })),
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: iso(r.expiresAt),
    decidedAt: iso(r.decidedAt),
    validUntil: iso(r.validUntil),
    result: r.result
      ? { outcome: r.result.outcome, detail: r.result.detail, at: new Date(r.result.at).toISOString() }
      : null,
  };
}

export function eventView(e: StoredEvent) {
  return {
    index: e.index,
    kind: e.kind,
    at: new Date(e.at).toISOString(),
    requestId: e.requestId,
    subject: e.subject,
    details: e.details,
  };
}
