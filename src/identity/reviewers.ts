import type { IdentityConfig } from '../config/identity.js';
import { norm, type Reviewer } from '../core/identity.js';
import type { OidcIdentity } from './store.js';

/**
 * Approver groups for a person, computed each time a reviewer is resolved (so at vote time):
 * the IdP groups they had at login, mapped through `oidc.groupMap`, plus the static membership
 * in `identity.groups` as configured *now*. Removing someone from the configuration takes
 * effect on their next vote, without waiting for their session to end.
 */
export function groupsFor(config: IdentityConfig, person: OidcIdentity): string[] {
  const out = new Set<string>();
  const map = config.oidc?.groupMap ?? null;
  for (const g of person.idpGroups) {
    // With a groupMap only mapped groups count: an IdP group named like an approver group
    // must not grant approval rights by accident.
    if (map) for (const mapped of map[g] ?? []) out.add(mapped);
    else out.add(g);
  }
  const keys = new Set([norm(person.id), norm(person.email)]);
  for (const [group, members] of Object.entries(config.groups)) {
    if (members.some((m) => keys.has(norm(m)))) out.add(group);
  }
  return [...out].sort();
}

export function reviewerFor(config: IdentityConfig, person: OidcIdentity, authTime?: number): Reviewer {
  return {
    id: person.id,
    email: person.email,
    name: person.name,
    groups: groupsFor(config, person),
    ...(authTime !== undefined ? { authTime } : {}),
  };
}
