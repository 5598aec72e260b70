import type { AuditEvent, StoredEvent } from '../core/event.js';
import type { ActionRequest, RequestStatus, Review } from '../core/request.js';

/** A request with the votes cast on it, read in one consistent snapshot. */
export interface RequestSnapshot {
  request: ActionRequest;
  reviews: Review[];
}

/** What one atomic change writes: the new request state, an optional vote, and its audit events. */
export interface Mutation {
  /** The request as changed; absent when only events are written (a refused vote changes nothing). */
  request?: ActionRequest;
  review?: Review;
  events: AuditEvent[];
}

/**
 * What `mutate` asks of its caller: the change to write (if any), the value to return, and an
 * error to throw after the change is committed (a review that arrives after the TTL first
 * expires the request, then is refused).
 */
export interface Decision<T> {
  mutation: Mutation | null;
  value?: T;
  error?: Error;
}

export interface RequestQuery {
  status?: RequestStatus[];
  actorId?: string;
  limit: number;
  /** Only requests created before this id (pagination, newest first). */
  before?: string;
}

export type CredentialKind = 'agent_key' | 'reviewer_token';

/** A stored credential. Only a hash of the secret is kept; the secret is shown once at creation. */
export interface Credential {
  /** Public key id, the part of the token before the secret. */
  id: string;
  kind: CredentialKind;
  /** Actor name, or the reviewer id a token belongs to. */
  name: string;
  /** The principal (human) who owns an agent key; the reviewer id for a reviewer token. */
  owner: string;
  secretHash: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Agent keys only: action types (globs) this key may submit; null allows all. */
  allowedTypes: string[] | null;
  labels: Record<string, string>;
}

/** How a write may be committed. */
export interface WriteOptions {
  /**
   * Resolve once committed, before the commit is flushed to stable storage; the next flush (of
   * any write, or a timer within ~100 ms) covers it. Safe against a crash of the process (the
   * operating system holds the write), not against losing power in that window. Only for writes
   * nobody waits on to decide anything: the MCP gateway's record of a result it already returned.
   */
  deferDurability?: boolean;
  /**
   * Resolve once committed, while the disk is known good, having first handed this callback the
   * promise of the flush that covers the write (it rejects with CS_ERR_UNAVAILABLE if the flush
   * fails). While an earlier flush is still out or the last one failed, the callback is not
   * called, and the write is answered after its flush like any durable write. Only for a caller
   * that answers nobody before that promise settles: the MCP gateway, which forwards an allowed
   * call while its record is flushed (decision 0014).
   */
  answerAtCommit?: (flushed: Promise<void>) => void;
}

/** How a change is made: its durability, and what the caller already holds of the request. */
export interface MutateOptions extends WriteOptions {
  /**
   * The snapshot exactly as this store last wrote it, e.g. the request the caller has just
   * created (which has no reviews yet). The store may decide on it instead of reading the row:
   * the change is written only if the request is still at that version (every change of the
   * request or its reviews makes a new version), and is otherwise decided again on the stored
   * state, as after a lost race. So is a decision on it that throws or writes no new version of
   * the request, since nothing would check it against the row. `decide` must be free of side
   * effects, since it may run twice.
   */
  known?: RequestSnapshot;
}

/**
 * The one storage contract. SQLite (embedded) and PostgreSQL (scale-out) implement it and run the
 * same compliance suite (src/store/store.case.ts). Every state change is a compare-and-set on the
 * request's version, in one transaction with the audit events that record it.
 */
export interface Store {
  readonly kind: string;
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Resolves once a write that changes nothing has been committed and made durable: the write
   * path (queue, commit, flush) is moving. Readiness checks use it, since a store can answer
   * reads while its writes are stuck.
   */
  probeWrite(): Promise<void>;

  createRequest(request: ActionRequest, events: AuditEvent[], options?: WriteOptions): Promise<void>;
  getRequest(id: string): Promise<RequestSnapshot | undefined>;
  listRequests(query: RequestQuery): Promise<ActionRequest[]>;
  /**
   * Reads the snapshot (or takes `options.known`), lets `decide` compute the change, and writes it
   * only if the request is still at the version that was read; on a lost race it reads again and
   * asks `decide` again.
   */
  mutate<T>(id: string, decide: (snap: RequestSnapshot) => Decision<T>, options?: MutateOptions): Promise<T>;
  /** Ids of pending requests whose TTL has passed at `now`. */
  dueRequests(now: number, limit: number): Promise<string[]>;
  /** The earliest pending deadline, for the expiry timer. */
  nextDeadline(): Promise<number | null>;

  appendEvents(events: AuditEvent[]): Promise<void>;
  eventsForRequest(requestId: string): Promise<StoredEvent[]>;
  readEvents(fromIndex: number, limit: number): Promise<StoredEvent[]>;

  createCredential(credential: Credential, events: AuditEvent[]): Promise<void>;
  findCredential(id: string): Promise<Credential | undefined>;
  listCredentials(kind: CredentialKind): Promise<Credential[]>;
  revokeCredential(id: string, at: number, events: AuditEvent[]): Promise<boolean>;
}
