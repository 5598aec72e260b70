import type { Action } from '../core/action.js';
import type { Actor } from '../core/identity.js';
import type { ApprovalRequirement, PolicyDecision, RequestTimers } from '../core/request.js';

/** What the policy sees: the action and who asks. */
export interface PolicyInput {
  action: Action;
  actor: Actor;
  /** ms since epoch, for time windows. */
  now: number;
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
}
