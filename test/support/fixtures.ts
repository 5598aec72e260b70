import type { Actor, Reviewer } from '../../src/core/identity.js';
import type { ActionRequest, ApprovalRequirement } from '../../src/core/request.js';

export const agent: Actor = {
  id: 'csk_agent',
  name: 'deploy-bot',
  principal: 'dana@example.com',
  via: 'api_key',
};

export function reviewer(id: string, groups: string[], extra: Partial<Reviewer> = {}): Reviewer {
  return { id, email: id.includes('@') ? id : `${id}@example.com`, name: id, groups, ...extra };
}

export function pendingRequest(
  requirement: ApprovalRequirement,
  overrides: Partial<ActionRequest> = {},
): ActionRequest {
  return {
    id: 'req_test',
    status: 'pending',
    action: {
      type: 'aws.iam.attach_role_policy',
      resource: 'prod/iam/role/x',
      params: {},
      justification: 'test',
    },
    hash: 'a'.repeat(64),
    requester: agent,
    policy: { version: 'v', rule: 'r', reason: 'test', decision: 'require_approval' },
    requirement,
    timers: { pendingTtlMs: 60_000, approvalValidityMs: 60_000 },
    createdAt: 0,
    updatedAt: 0,
    expiresAt: 60_000,
    decidedAt: null,
    validUntil: null,
    result: null,
    version: 1,
    ...overrides,
  };
}
