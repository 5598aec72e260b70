import { CountersignError } from './errors.js';
import type { ActionRequest, ExecutionResult, RequestStatus } from './request.js';

/**
 * The lifecycle of DESIGN.md as data: from each state, the states it may move to.
 * Every transition below goes through `move`, so an illegal one can never be written.
 */
export const transitions: Readonly<Record<RequestStatus, readonly RequestStatus[]>> = {
  allowed: ['executed', 'failed'],
  approved: ['executed', 'failed'],
  pending: ['approved', 'rejected', 'expired', 'cancelled'],
  denied: [],
  rejected: [],
  expired: [],
  cancelled: [],
  executed: [],
  failed: [],
};

export function canMove(from: RequestStatus, to: RequestStatus): boolean {
  return transitions[from].includes(to);
}

function move(
  req: ActionRequest,
  to: RequestStatus,
  now: number,
  patch: Partial<ActionRequest> = {},
): ActionRequest {
  if (!canMove(req.status, to)) {
    const code =
      req.status === 'pending' || to === 'executed' || to === 'failed'
        ? 'CS_ERR_ILLEGAL_TRANSITION'
        : 'CS_ERR_NOT_PENDING';
    throw new CountersignError(code, `request ${req.id} is ${req.status}; it cannot become ${to}`, {
      requestStatus: req.status,
    });
  }
  return { ...req, ...patch, status: to, updatedAt: now, version: req.version + 1 };
}

/** True when a pending request's TTL has passed at `now`. */
export function isDue(req: ActionRequest, now: number): boolean {
  return req.status === 'pending' && req.expiresAt !== null && now >= req.expiresAt;
}

export function approve(req: ActionRequest, now: number): ActionRequest {
  return move(req, 'approved', now, {
    decidedAt: now,
    expiresAt: null,
    validUntil: now + req.timers.approvalValidityMs,
  });
}

export function reject(req: ActionRequest, now: number): ActionRequest {
  return move(req, 'rejected', now, { decidedAt: now, expiresAt: null });
}

export function expire(req: ActionRequest, now: number): ActionRequest {
  if (!isDue(req, now)) {
    throw new CountersignError('CS_ERR_ILLEGAL_TRANSITION', `request ${req.id} is not due to expire`);
  }
  return move(req, 'expired', now, { decidedAt: now, expiresAt: null });
}

export function cancel(req: ActionRequest, now: number): ActionRequest {
  return move(req, 'cancelled', now, { decidedAt: now, expiresAt: null });
}

/**
 * Records the outcome of running an allowed or approved action, at most once, only for the exact
 * action that was decided and only if it started within its validity window. `startedAt` is when
 * a runner inside the gateway began the action (it checked `mayExecute` then), so a call that
 * outlasts the window is still recorded; without it the result must arrive within the window.
 */
export function recordResult(
  req: ActionRequest,
  hash: string,
  result: Omit<ExecutionResult, 'at'>,
  now: number,
  startedAt = now,
): ActionRequest {
  if (req.status === 'executed' || req.status === 'failed') {
    throw new CountersignError('CS_ERR_RESULT_RECORDED', `request ${req.id} already has a result`);
  }
  if (req.status !== 'allowed' && req.status !== 'approved') {
    throw new CountersignError(
      'CS_ERR_ILLEGAL_TRANSITION',
      `request ${req.id} is ${req.status}; only an allowed or approved action can run`,
    );
  }
  if (hash !== req.hash) {
    throw new CountersignError(
      'CS_ERR_HASH_MISMATCH',
      `the result names action hash ${hash.slice(0, 12)}, but request ${req.id} was decided for ${req.hash.slice(0, 12)}`,
    );
  }
  if (req.validUntil !== null && Math.min(startedAt, now) > req.validUntil) {
    throw new CountersignError(
      'CS_ERR_APPROVAL_EXPIRED',
      `request ${req.id} was valid until ${new Date(req.validUntil).toISOString()}`,
    );
  }
  const to = result.outcome === 'succeeded' ? 'executed' : 'failed';
  return move(req, to, now, { result: { ...result, at: now } });
}

/** Whether a gateway may run this request's action now, bound to the exact hash. */
export function mayExecute(req: ActionRequest, hash: string, now: number): boolean {
  return (
    (req.status === 'allowed' || req.status === 'approved') &&
    hash === req.hash &&
    (req.validUntil === null || now <= req.validUntil)
  );
}
