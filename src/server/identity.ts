import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import { WorkloadJwtVerifier } from '../identity/jwt.js';
import { Sessions } from '../identity/sessions.js';
import type { IdentitySources } from '../service/auth.js';
import { SqliteIdentityStore } from '../store/sqlite/identity.js';
import type { SqliteStore } from '../store/sqlite/index.js';

/** Everything identity adds to a gateway, built from the `identity:` configuration. */
export interface IdentityParts {
  store: SqliteIdentityStore;
  jwt: WorkloadJwtVerifier;
  sessions: Sessions;
  sources: IdentitySources;
}

export function createIdentity(config: Config, store: SqliteStore, clock: Clock): IdentityParts {
  const identityStore = new SqliteIdentityStore(store);
  const jwt = new WorkloadJwtVerifier(config.identity.jwtIssuers, clock);
  const sessions = new Sessions(identityStore, config.identity, clock);
  return { store: identityStore, jwt, sessions, sources: { jwt, sessions } };
}
