import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agent, pendingRequest, reviewer } from '../../test/support/fixtures.js';
import { CountersignError } from './errors.js';
import type { ApprovalRequirement, Review } from './request.js';
import { checkVote, tally } from './review.js';

const twoOfSre: ApprovalRequirement = { anyOf: [{ groups: ['sre'], count: 2 }], denyThreshold: 1 };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof CountersignError ? e.code : 'not a CountersignError';
  }
  return undefined;
}

/** Casts votes in order, keeping the refused ones out, and returns the tally after each. */
function castAll(
  requirement: ApprovalRequirement,
  votes: Array<{ id: string; groups: string[]; vote: 'approve' | 'deny' }>,
) {
  let req = pendingRequest(requirement);
  const reviews: Review[] = [];
  for (const v of votes) {
    try {
      const { review, outcome } = checkVote(
        req,
        reviews,
        { reviewer: reviewer(v.id, v.groups), vote: v.vote, comment: '', via: 'test' },
        1,
      );
      reviews.push(review);
      if (outcome !== 'pending') req = { ...req, status: outcome };
    } catch {
      // refused votes do not count
    }
  }
  return { status: req.status, reviews };
}

describe('separation of duties', () => {
  it('refuses the principal behind the agent, whatever their groups (no admin exemption)', () => {
    const req = pendingRequest(twoOfSre);
    const self = reviewer('dana@example.com', ['sre', 'admins', 'security-leads']);
    expect(
      codeOf(() => checkVote(req, [], { reviewer: self, vote: 'approve', comment: '', via: 't' }, 1)),
    ).toBe('CS_ERR_SELF_APPROVAL');
  });

  it('matches the principal by email case-insensitively and by id', () => {
    const req = pendingRequest(twoOfSre);
    const byEmail = reviewer('okta|123', ['sre'], { email: 'Dana@Example.COM' });
    const byId = reviewer(' DANA@example.com ', ['sre'], { email: 'other@example.com' });
    for (const r of [byEmail, byId]) {
      expect(
        codeOf(() => checkVote(req, [], { reviewer: r, vote: 'approve', comment: '', via: 't' }, 1)),
      ).toBe('CS_ERR_SELF_APPROVAL');
    }
  });

  it('refuses anyone in the on-behalf-of chain, and the actor itself', () => {
    const req = pendingRequest(twoOfSre, { requester: { ...agent, onBehalfOf: ['erin@example.com'] } });
    const erin = reviewer('erin@example.com', ['sre']);
    const actorItself = reviewer(agent.id, ['sre'], { email: 'bot@example.com' });
    for (const r of [erin, actorItself]) {
      expect(
        codeOf(() => checkVote(req, [], { reviewer: r, vote: 'approve', comment: '', via: 't' }, 1)),
      ).toBe('CS_ERR_SELF_APPROVAL');
    }
  });

  it('never lets a principal contribute to any quorum, for any groups and requirement', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('sre', 'sec', 'ops'), { minLength: 1 }),
        fc.integer({ min: 1, max: 3 }),
        (groups, count) => {
          const req = pendingRequest({ anyOf: [{ groups: ['sre', 'sec', 'ops'], count }], denyThreshold: 1 });
          const self = reviewer(agent.principal as string, groups);
          expect(
            codeOf(() => checkVote(req, [], { reviewer: self, vote: 'approve', comment: '', via: 't' }, 1)),
          ).toBe('CS_ERR_SELF_APPROVAL');
        },
      ),
    );
  });
});

describe('eligibility and quorum', () => {
  it('refuses reviewers outside the approver groups', () => {
    const req = pendingRequest(twoOfSre);
    expect(
      codeOf(() =>
        checkVote(
          req,
          [],
          { reviewer: reviewer('eve', ['marketing']), vote: 'approve', comment: '', via: 't' },
          1,
        ),
      ),
    ).toBe('CS_ERR_NOT_ELIGIBLE');
  });

  it('counts one person once even when in several groups', () => {
    const both: ApprovalRequirement = {
      anyOf: [{ groups: ['sre', 'security-leads'], count: 2 }],
      denyThreshold: 1,
    };
    const { status } = castAll(both, [
      { id: 'bob', groups: ['sre', 'security-leads'], vote: 'approve' },
      { id: 'bob', groups: ['sre', 'security-leads'], vote: 'approve' },
    ]);
    expect(status).toBe('pending');
  });

  it('refuses a second vote by the same person under another id with the same email', () => {
    const req = pendingRequest(twoOfSre);
    const first = checkVote(
      req,
      [],
      { reviewer: reviewer('alice', ['sre']), vote: 'approve', comment: '', via: 't' },
      1,
    );
    const again = reviewer('oidc|alice', ['sre'], { email: 'ALICE@example.com' });
    expect(
      codeOf(() =>
        checkVote(req, [first.review], { reviewer: again, vote: 'approve', comment: '', via: 't' }, 1),
      ),
    ).toBe('CS_ERR_ALREADY_VOTED');
  });

  it('approves exactly when count distinct eligible people approved', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({
            id: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
            groups: fc.subarray(['sre', 'ops'], { minLength: 1 }),
          }),
          { maxLength: 10 },
        ),
        (count, voters) => {
          const requirement: ApprovalRequirement = { anyOf: [{ groups: ['sre'], count }], denyThreshold: 1 };
          const { status, reviews } = castAll(
            requirement,
            voters.map((v) => ({ ...v, vote: 'approve' as const })),
          );
          const distinctSre = new Set(
            reviews.filter((r) => r.groups.includes('sre')).map((r) => r.reviewerId),
          ).size;
          expect(status === 'approved').toBe(distinctSre >= count);
          // No votes are accepted once it is decided.
          expect(distinctSre).toBeLessThanOrEqual(count);
        },
      ),
    );
  });

  it('rejects on one deny from an eligible reviewer, and deny is never outvoted', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd')),
        fc.integer({ min: 0, max: 3 }),
        (approvers, denyAt) => {
          const votes = approvers.map((id) => ({ id, groups: ['sre'], vote: 'approve' as const }));
          votes.splice(Math.min(denyAt, votes.length), 0, {
            id: 'zed',
            groups: ['sre'],
            vote: 'deny' as const,
          } as never);
          const requirement: ApprovalRequirement = {
            anyOf: [{ groups: ['sre'], count: 10 }],
            denyThreshold: 1,
          };
          expect(castAll(requirement, votes).status).toBe('rejected');
        },
      ),
    );
  });

  it('ignores deny votes from reviewers outside the groups when tallying', () => {
    const r = (id: string, groups: string[], vote: 'approve' | 'deny'): Review => ({
      requestId: 'x',
      reviewerId: id,
      reviewerEmail: `${id}@e`,
      reviewerName: id,
      groups,
      vote,
      comment: '',
      via: 't',
      at: 0,
    });
    expect(
      tally(twoOfSre, [
        r('m', ['marketing'], 'deny'),
        r('a', ['sre'], 'approve'),
        r('b', ['sre'], 'approve'),
      ]),
    ).toBe('approved');
  });

  it('supports alternatives: 2 of sre OR 1 of security-leads', () => {
    const either: ApprovalRequirement = {
      anyOf: [
        { groups: ['sre'], count: 2 },
        { groups: ['security-leads'], count: 1 },
      ],
      denyThreshold: 1,
    };
    expect(castAll(either, [{ id: 'a', groups: ['sre'], vote: 'approve' }]).status).toBe('pending');
    expect(castAll(either, [{ id: 's', groups: ['security-leads'], vote: 'approve' }]).status).toBe(
      'approved',
    );
    expect(
      castAll(either, [
        { id: 'a', groups: ['sre'], vote: 'approve' },
        { id: 'b', groups: ['sre'], vote: 'approve' },
      ]).status,
    ).toBe('approved');
  });

  it('requires a recent login when the rule asks for step-up', () => {
    const req = pendingRequest({ ...twoOfSre, stepUpMs: 5 * 60_000 });
    const now = 10 * 60_000;
    const stale = reviewer('a', ['sre'], { authTime: now - 6 * 60_000 });
    const fresh = reviewer('b', ['sre'], { authTime: now - 60_000 });
    const never = reviewer('c', ['sre']);
    expect(
      codeOf(() => checkVote(req, [], { reviewer: stale, vote: 'approve', comment: '', via: 't' }, now)),
    ).toBe('CS_ERR_STEP_UP_REQUIRED');
    expect(
      codeOf(() => checkVote(req, [], { reviewer: never, vote: 'approve', comment: '', via: 't' }, now)),
    ).toBe('CS_ERR_STEP_UP_REQUIRED');
    expect(
      codeOf(() => checkVote(req, [], { reviewer: fresh, vote: 'approve', comment: '', via: 't' }, now)),
    ).toBeUndefined();
  });

  it('says how recent the sign-in must be and how to get one, in the unit of the rule', () => {
    const req = pendingRequest({ ...twoOfSre, stepUpMs: 90_000 });
    const stale = reviewer('a', ['sre'], { authTime: 0 });
    expect(() =>
      checkVote(req, [], { reviewer: stale, vote: 'approve', comment: '', via: 't' }, 10 * 60_000),
    ).toThrow(
      'this rule needs a sign-in within the last 90s; sign in again with that bound (countersign login --max-age 90s, or /auth/login?max_age=90 in a browser), then vote again',
    );
  });

  it('refuses votes on a request that is not pending', () => {
    for (const status of [
      'approved',
      'rejected',
      'expired',
      'cancelled',
      'allowed',
      'denied',
      'executed',
    ] as const) {
      const req = pendingRequest(twoOfSre, { status });
      expect(
        codeOf(() =>
          checkVote(req, [], { reviewer: reviewer('a', ['sre']), vote: 'approve', comment: '', via: 't' }, 1),
        ),
      ).toBe('CS_ERR_NOT_PENDING');
    }
  });
});
