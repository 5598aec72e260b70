/** The machine identity that asks: an agent, pipeline or service account. */
export interface Actor {
  id: string;
  name: string;
  /** The human on whose behalf the actor works (email or IdP subject), when known. */
  principal: string | null;
  /** Further humans in the delegation chain (an on-behalf-of claim), outermost first. */
  onBehalfOf?: string[];
  labels?: Record<string, string>;
  /** How the actor proved who it is: `api_key`, `jwt`. */
  via: string;
}

/** A human verified through the identity provider (or the static reviewer list). */
export interface Reviewer {
  /** Stable key: `issuer#subject` for OIDC, the configured id for static reviewers. */
  id: string;
  email: string;
  name: string;
  groups: string[];
  /** When the reviewer last authenticated (ms since epoch); used by step-up rules. */
  authTime?: number;
}

/** Every human in a request's delegation chain, normalised for comparison. */
export function humansInChain(requester: Actor): string[] {
  const all = [requester.id, requester.principal, ...(requester.onBehalfOf ?? [])];
  return [...new Set(all.filter((x): x is string => typeof x === 'string' && x.length > 0).map(norm))];
}

/** Identities are compared case-insensitively (emails) and without surrounding space. */
export function norm(identity: string): string {
  return identity.trim().toLowerCase();
}
