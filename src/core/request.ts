import type { Action } from './action.js';
import type { Actor } from './identity.js';

export const requestStatuses = [
  'allowed',
  'denied',
  'pending',
  'approved',
  'rejected',
  'expired',
  'cancelled',
  'executed',
  'failed',
] as const;
export type RequestStatus = (typeof requestStatuses)[number];

/**
 * What every request id looks like: `req_` and 26 lower-case Crockford base32 characters, a
 * 48-bit millisecond time then 80 random bits (minted by `newId('req')` in src/util/ids.ts).
 * Ids sort by creation time, which is what paging with `before` relies on.
 */
export const requestIdPattern = /^req_[0-9a-hjkmnp-tv-z]{26}$/;

export type PolicyDecision = 'allow' | 'deny' | 'require_approval';

/** One way to satisfy a quorum: `count` distinct reviewers from any of `groups`. */
export interface QuorumClause {
  groups: string[];
  count: number;
}

/** What a pending request needs. Any one clause satisfied approves (`2 of sre OR 1 of security-leads`). */
export interface ApprovalRequirement {
  anyOf: QuorumClause[];
  /** Deny votes from eligible reviewers that reject the request; 1 unless the rule says otherwise. */
  denyThreshold: number;
  /** A reviewer must have authenticated within this many ms to vote; absent means no step-up. */
  stepUpMs?: number;
}

/** The clocks a rule sets; all in milliseconds. */
export interface RequestTimers {
  pendingTtlMs: number;
  approvalValidityMs: number;
}

export interface PolicyRef {
  /** Content hash of the policy the request was decided under. */
  version: string;
  /** The matched rule, or null when the default applied. */
  rule: string | null;
  reason: string;
  decision: PolicyDecision;
  /** Channels the matched rule names for notification (empty means the configured defaults). */
  channels?: string[];
  /** Fields the classifiers produced from the raw action, for reviewers and audit. */
  facts?: Record<string, unknown>;
}

export interface ExecutionResult {
  outcome: 'succeeded' | 'failed';
  detail: string;
  at: number;
}

/** One action submitted for a decision. Times are ms since epoch. */
export interface ActionRequest {
  id: string;
  status: RequestStatus;
  action: Action;
  hash: string;
  requester: Actor;
  policy: PolicyRef;
  requirement: ApprovalRequirement | null;
  timers: RequestTimers;
  createdAt: number;
  updatedAt: number;
  /** When a pending request expires; null once it is not pending. */
  expiresAt: number | null;
  decidedAt: number | null;
  /** Until when an allowed or approved action may run. */
  validUntil: number | null;
  result: ExecutionResult | null;
  /** Optional URL the actor asked to be called back on with the decision. */
  callbackUrl?: string | null;
  /** Incremented on every change; the store's compare-and-set is on this. */
  version: number;
}

export type Vote = 'approve' | 'deny';

/** One reviewer's vote on one request, with the groups they held when they cast it. */
export interface Review {
  requestId: string;
  reviewerId: string;
  reviewerEmail: string;
  reviewerName: string;
  groups: string[];
  vote: Vote;
  comment: string;
  via: string;
  at: number;
}
