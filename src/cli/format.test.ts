import { describe, expect, it } from 'vitest';
import type { ActionRequestView, AuditEventView } from '../sdk/client.js';
import { requestDetail } from './format.js';

const view: ActionRequestView = {
  id: 'req_1',
  status: 'approved',
  hash: 'a'.repeat(64),
  rule: 'iam-changes',
  reason: 'matched',
  policyVersion: 'v',
  action: { type: 'aws.iam.attach_role_policy', resource: 'prod/iam', params: {}, justification: 'x' },
  requester: { actor: 'csk_1', name: 'bot', principal: 'dana@example.com' },
  quorum: { anyOf: [{ groups: ['sre'], count: 2, have: 2 }], denyThreshold: 1 },
  reviews: [],
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  decidedAt: null,
  validUntil: null,
  result: null,
};

const event = (index: number): AuditEventView => ({
  index,
  kind: 'review.cast',
  at: '2026-01-01T00:00:00.000Z',
  requestId: 'req_1',
  subject: { type: 'reviewer', id: 'alice@example.com' },
  details: {},
});

describe('requestDetail', () => {
  it('keeps the audit trail in columns when the entry numbers grow a digit', () => {
    const text = requestDetail(view, [8, 9, 10, 11].map(event));
    const trail = text.split('audit trail\n')[1]!.split('\n');
    expect(trail).toHaveLength(4);
    expect(new Set(trail.map((line) => line.indexOf('2026-'))).size).toBe(1);
    expect(trail[0]).toMatch(/^ {2}#8 {3}2026-/);
    expect(trail[2]).toMatch(/^ {2}#10 {2}2026-/);
  });
});
