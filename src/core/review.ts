import { formatDuration } from '../util/duration.js';
import { CountersignError } from './errors.js';
import { humansInChain, norm, type Reviewer } from './identity.js';
import type { ActionRequest, ApprovalRequirement, QuorumClause, Review, Vote } from './request.js';

/** Whether this reviewer's identity appears anywhere in the request's delegation chain. */
export function isSelfReview(req: ActionRequest, reviewer: Pick<Reviewer, 'id' | 'email'>): boolean {
  const chain = humansInChain(req.requester);
  return chain.includes(norm(reviewer.id)) || chain.includes(norm(reviewer.email));
}

export function eligibleGroups(requirement: ApprovalRequirement): Set<string> {
  return new Set(requirement.anyOf.flatMap((c) => c.groups));
}

/** A reviewer may vote when they belong to any group any clause names. Separation of duties is checked apart. */
export function isEligible(requirement: ApprovalRequirement, groups: readonly string[]): boolean {
  const eligible = eligibleGroups(requirement);
  return groups.some((g) => eligible.has(g));
}

function samePerson(
  a: Pick<Review, 'reviewerId' | 'reviewerEmail'>,
  b: Pick<Reviewer, 'id' | 'email'>,
): boolean {
  return norm(a.reviewerId) === norm(b.id) || norm(a.reviewerEmail) === norm(b.email);
}

/** Distinct people (by id or email) among these reviews: one person counts once. */
function distinctPeople(reviews: readonly Review[]): Review[] {
  const out: Review[] = [];
  for (const r of reviews) {
    if (!out.some((o) => samePerson(o, { id: r.reviewerId, email: r.reviewerEmail }))) out.push(r);
  }
  return out;
}

function clauseSatisfied(clause: QuorumClause, approvals: readonly Review[]): boolean {
  const members = approvals.filter((r) => r.groups.some((g) => clause.groups.includes(g)));
  return distinctPeople(members).length >= clause.count;
}

export type Tally = 'pending' | 'approved' | 'rejected';

/** What the votes so far decide. Deny is checked first: a rejection is never outvoted. */
export function tally(requirement: ApprovalRequirement, reviews: readonly Review[]): Tally {
  const eligible = reviews.filter((r) => isEligible(requirement, r.groups));
  const denies = distinctPeople(eligible.filter((r) => r.vote === 'deny'));
  if (denies.length >= requirement.denyThreshold) return 'rejected';
  const approvals = eligible.filter((r) => r.vote === 'approve');
  return requirement.anyOf.some((c) => clauseSatisfied(c, approvals)) ? 'approved' : 'pending';
}

/** Quorum progress for display: per clause, how many distinct approvers it has of how many it needs. */
export function progress(
  requirement: ApprovalRequirement,
  reviews: readonly Review[],
): Array<QuorumClause & { have: number }> {
  const approvals = reviews.filter((r) => r.vote === 'approve');
  return requirement.anyOf.map((c) => ({
    ...c,
    have: distinctPeople(approvals.filter((r) => r.groups.some((g) => c.groups.includes(g)))).length,
  }));
}

export interface VoteInput {
  reviewer: Reviewer;
  vote: Vote;
  comment: string;
  via: string;
}

/**
 * Checks one vote against every review rule and returns the review to store with the tally it
 * produces. Throws a CountersignError naming the rule that refused it.
 */
export function checkVote(
  req: ActionRequest,
  existing: readonly Review[],
  input: VoteInput,
  now: number,
): { review: Review; outcome: Tally } {
  const { reviewer } = input;
  if (req.status !== 'pending' || req.requirement === null) {
    throw new CountersignError('CS_ERR_NOT_PENDING', `request ${req.id} is ${req.status}`, {
      requestStatus: req.status,
    });
  }
  if (isSelfReview(req, reviewer)) {
    throw new CountersignError(
      'CS_ERR_SELF_APPROVAL',
      `${reviewer.email} is in the delegation chain of request ${req.id}`,
    );
  }
  if (!isEligible(req.requirement, reviewer.groups)) {
    const need = [...eligibleGroups(req.requirement)].join(', ');
    throw new CountersignError(
      'CS_ERR_NOT_ELIGIBLE',
      `${reviewer.email} is in none of the approver groups (${need})`,
    );
  }
  const step = req.requirement.stepUpMs;
  if (step !== undefined && (reviewer.authTime === undefined || now - reviewer.authTime > step)) {
    throw new CountersignError(
      'CS_ERR_STEP_UP_REQUIRED',
      `this rule needs a sign-in within the last ${formatDuration(step)}; sign in again with that bound ` +
        `(countersign login --max-age ${formatDuration(step)}, or /auth/login?max_age=${Math.floor(step / 1000)} in a browser), then vote again`,
      // Lets a console or CLI send the reviewer straight to a fresh login (OIDC max_age).
      { maxAgeSeconds: Math.floor(step / 1000) },
    );
  }
  if (existing.some((r) => samePerson(r, reviewer))) {
    throw new CountersignError(
      'CS_ERR_ALREADY_VOTED',
      `${reviewer.email} already voted on request ${req.id}`,
    );
  }
  const review: Review = {
    requestId: req.id,
    reviewerId: reviewer.id,
    reviewerEmail: reviewer.email,
    reviewerName: reviewer.name,
    groups: [...reviewer.groups],
    vote: input.vote,
    comment: input.comment,
    via: input.via,
    at: now,
  };
  return { review, outcome: tally(req.requirement, [...existing, review]) };
}
