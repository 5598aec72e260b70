import type { Action } from '../core/action.js';
import type { Actor } from '../core/identity.js';
import type { ApprovalRequirement, PolicyDecision, RequestTimers } from '../core/request.js';

/** What the policy sees: the action and who asks. */
export interface PolicyInput {
  action: Action;
  actor: Actor;
  /** ms since epoch, for time windows. */
  now: number;
  /** IdP groups of the principal, when the gateway knows them; matched by `principal.groups`. */
  principalGroups?: string[];
}

/** The policy's answer for one action, with the reason a human can read. */
export interface Evaluation {
  decision: PolicyDecision;
  /** The matched rule's name, or null when the default applied. */
  rule: string | null;
  reason: string;
  /** Set for `require_approval`. */
  requirement: ApprovalRequirement | null;
  timers: RequestTimers;
  /** Message for the agent on `deny`. */
  message?: string;
  channels?: string[];
  facts?: Record<string, unknown>;
}

/** A compiled, immutable policy. Evaluation is pure and deterministic. */
export interface Policy {
  /** Content hash of the source files, recorded on every request. */
  readonly version: string;
  readonly sources: string[];
  evaluate(input: PolicyInput): Evaluation;
  /** Every rule's verdict on the input and why; optional so that simple test doubles stay valid. */
  explain?(input: PolicyInput): Explanation;
}

/** One rule's verdict in an explanation. */
export interface RuleVerdict {
  rule: string;
  decision: PolicyDecision;
  location: string;
  /** `unknown`: a classifier could not understand the input; such a rule takes it unless it allows. */
  outcome: 'matched' | 'not_matched' | 'unknown';
  /** For a rule that did not match, the first condition that failed. */
  failed?: string;
  /** Whether this rule decided the evaluation. */
  chosen: boolean;
}

export interface Explanation {
  evaluation: Evaluation;
  policyVersion: string;
  rules: RuleVerdict[];
}
