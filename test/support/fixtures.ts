import { ManualClock } from '../../src/core/clock.js';
import type { Actor, Reviewer } from '../../src/core/identity.js';
import type { ActionRequest, ApprovalRequirement } from '../../src/core/request.js';
import { InProcessNotifier } from '../../src/service/notifier.js';
import { Service } from '../../src/service/service.js';
import type { Store } from '../../src/store/store.js';

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

/** A service over `store` at a fixed time, for tests that never evaluate a policy (it throws if asked). */
export function serviceWithoutPolicy(store: Store, now = 1000): Service {
  return new Service({
    store,
    clock: new ManualClock(now),
    notifier: new InProcessNotifier(),
    policy: () => {
      throw new Error('not used');
    },
  });
}
