import type { Json } from './action.js';

/** Every kind of audit event. Request events carry the request id; the rest describe the gateway. */
export const eventKinds = [
  'request.submitted',
  'request.notified',
  'review.cast',
  'review.refused',
  'request.approved',
  'request.rejected',
  'request.expired',
  'request.cancelled',
  'request.executed',
  'request.failed',
  'actor.created',
  'actor.revoked',
  'reviewer.token_issued',
  'reviewer.token_revoked',
  'reviewer.login',
  'reviewer.login_refused',
  'reviewer.logout',
  'chat.linked',
  'chat.unlinked',
  'policy.loaded',
  'config.loaded',
  'audit.key_rotated',
] as const;
export type EventKind = (typeof eventKinds)[number];

export interface EventSubject {
  type: 'actor' | 'reviewer' | 'system' | 'operator';
  id: string;
}

/**
 * One audit event, self-describing so that the log can be read without the database:
 * what happened, when, to which request, who caused it, and the details of the change.
 */
export interface AuditEvent {
  kind: EventKind;
  /** ms since epoch, from the injected clock. */
  at: number;
  requestId: string | null;
  subject: EventSubject;
  details: { [key: string]: Json };
}

/** An event as stored: its position in the log (0-based) and its RFC 8785 entry text. */
export interface StoredEvent extends AuditEvent {
  index: number;
  entry: string;
}
