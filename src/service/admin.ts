import type { Clock } from '../core/clock.js';
import { CountersignError } from '../core/errors.js';
import type { AuditEvent } from '../core/event.js';
import { issueCredential } from '../identity/tokens.js';
import type { Credential, CredentialKind, Store } from '../store/store.js';
import type { ReviewerDirectory } from './auth.js';

/** The audit event for a new credential: whom it is for, never the secret or its hash. */
function issued(c: Credential, by: string, at: number): AuditEvent {
  return {
    kind: c.kind === 'agent_key' ? 'actor.created' : 'reviewer.token_issued',
    at,
    requestId: null,
    subject: { type: 'operator', id: by },
    details: {
      credential: c.id,
      name: c.name,
      owner: c.owner,
      expiresAt: c.expiresAt,
      allowedTypes: c.allowedTypes,
    },
  };
}

function revoked(c: Credential, by: string, at: number): AuditEvent {
  return {
    kind: c.kind === 'agent_key' ? 'actor.revoked' : 'reviewer.token_revoked',
    at,
    requestId: null,
    subject: { type: 'operator', id: by },
    details: { credential: c.id, name: c.name, owner: c.owner },
  };
}

export interface NewActor {
  name: string;
  owner: string;
  expiresAt?: number | null;
  allowedTypes?: string[] | null;
  labels?: Record<string, string>;
}

/** Operator actions on credentials, each recorded in the audit log. Returns tokens exactly once. */
export class Admin {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly operator: string,
  ) {}

  async createActor(input: NewActor): Promise<{ credential: Credential; token: string }> {
    const now = this.clock.now();
    const made = issueCredential({ kind: 'agent_key', now, ...input });
    await this.store.createCredential(made.credential, [issued(made.credential, this.operator, now)]);
    return made;
  }

  async issueReviewerToken(
    directory: ReviewerDirectory,
    reviewerId: string,
    expiresAt: number | null = null,
  ): Promise<{ credential: Credential; token: string }> {
    const reviewer = directory.get(reviewerId);
    if (!reviewer) {
      const known = directory.list().map((r) => r.id);
      throw new CountersignError(
        'CS_ERR_NOT_FOUND',
        `${reviewerId} is not a configured reviewer${known.length ? ` (known: ${known.join(', ')})` : '; add it under reviewers: in the configuration'}`,
      );
    }
    const now = this.clock.now();
    const made = issueCredential({
      kind: 'reviewer_token',
      name: reviewer.id,
      owner: reviewer.id,
      now,
      expiresAt,
    });
    await this.store.createCredential(made.credential, [issued(made.credential, this.operator, now)]);
    return made;
  }

  list(kind: CredentialKind): Promise<Credential[]> {
    return this.store.listCredentials(kind);
  }

  /**
   * Revokes a credential by id. A whole token is accepted too (what an operator pastes during an
   * incident); only its id is used or echoed, never the secret. With `kind`, a credential of the
   * other kind is refused rather than revoked by the wrong command.
   */
  async revoke(idOrToken: string, kind?: CredentialKind): Promise<Credential & { alreadyRevoked?: true }> {
    const id = idOrToken.split('.', 1)[0] as string;
    const c = await this.store.findCredential(id);
    if (!c) throw new CountersignError('CS_ERR_NOT_FOUND', `no credential ${id}`);
    if (kind && c.kind !== kind)
      throw new CountersignError(
        'CS_ERR_VALIDATION',
        c.kind === 'agent_key'
          ? `${id} is an agent key; revoke it with \`countersign actors revoke\``
          : `${id} is a reviewer token; revoke it with \`countersign reviewers revoke\``,
      );
    if (c.revokedAt !== null) return { ...c, alreadyRevoked: true };
    const now = this.clock.now();
    await this.store.revokeCredential(id, now, [revoked(c, this.operator, now)]);
    return { ...c, revokedAt: now };
  }
}
