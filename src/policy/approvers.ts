import type { ApprovalRequirement, QuorumClause, RequestTimers } from '../core/request.js';
import type { ApproversT } from './language.js';
import { durationMs, PolicyError, type YamlPath } from './source.js';

export const defaultTimers: RequestTimers = { pendingTtlMs: 3_600_000, approvalValidityMs: 900_000 };

/** The approval settings a rule or the top-level `approval:` block may give. */
export interface ApprovalFields {
  approvers?: ApproversT;
  ttl?: string;
  validity?: string;
  deny_threshold?: number;
  channels?: string[];
  step_up?: string;
}

/** `2 of sre or 1 of security-leads` → clauses. The schema has checked the first clause's form. */
function parseText(text: string, at: string): Array<{ groups: string[]; count: number }> {
  return text.split(/\s+or\s+/i).map((part) => {
    const m = /^\s*(\d+)\s+of\s+([A-Za-z0-9][A-Za-z0-9_.:@/-]*)\s*$/i.exec(part);
    if (!m)
      throw new PolicyError(
        at,
        `cannot read approvers clause '${part.trim()}'`,
        "Write clauses as 'N of GROUP', joined by 'or' (e.g. '2 of sre or 1 of security-leads')",
      );
    return { groups: [m[2] as string], count: Number(m[1]) };
  });
}

/** Expands named approver groups into the IdP groups reviewers carry; unknown names are IdP groups themselves. */
export function requirementOf(
  fields: ApprovalFields,
  defaults: ApprovalFields,
  groups: Record<string, string[]>,
  where: (p: YamlPath) => string,
  at: YamlPath,
): ApprovalRequirement {
  const spec = fields.approvers ?? defaults.approvers;
  if (spec === undefined) {
    throw new PolicyError(
      where(at),
      'require_approval needs approvers',
      'Add `approvers: "2 of sre"` (or `{groups: [sre], count: 2}`) to the rule, or `approval.approvers` at the top level',
    );
  }
  const loc = where(fields.approvers !== undefined ? [...at, 'approvers'] : ['approval', 'approvers']);
  const raw =
    typeof spec === 'string'
      ? parseText(spec, loc)
      : (Array.isArray(spec) ? spec : [spec]).map((c) => ({ groups: c.groups, count: c.count ?? 1 }));
  const anyOf: QuorumClause[] = raw.map((c) => ({
    groups: [...new Set(c.groups.flatMap((g) => groups[g] ?? [g]))],
    count: c.count,
  }));
  const requirement: ApprovalRequirement = {
    anyOf,
    denyThreshold: fields.deny_threshold ?? defaults.deny_threshold ?? 1,
  };
  const step = fields.step_up ?? defaults.step_up;
  if (step !== undefined) requirement.stepUpMs = durationMs(step);
  return requirement;
}

export function timersOf(fields: ApprovalFields, defaults: ApprovalFields): RequestTimers {
  const ttl = fields.ttl ?? defaults.ttl;
  const validity = fields.validity ?? defaults.validity;
  return {
    pendingTtlMs: ttl !== undefined ? durationMs(ttl) : defaultTimers.pendingTtlMs,
    approvalValidityMs: validity !== undefined ? durationMs(validity) : defaultTimers.approvalValidityMs,
  };
}
