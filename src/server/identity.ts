import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import { StoredChatLinks } from '../identity/chat-links.js';
import { WorkloadJwtVerifier } from '../identity/jwt.js';
import { OidcLogin } from '../identity/oidc.js';
import { Sessions } from '../identity/sessions.js';
import type { IdentitySources, ReviewerDirectory } from '../service/auth.js';
import { SqliteIdentityStore } from '../store/sqlite/identity.js';
import type { SqliteStore } from '../store/sqlite/index.js';
import { identityRoutes } from './routes/identity.js';

/** Everything identity adds to a gateway, built from the `identity:` configuration. */
export interface IdentityParts {
  store: SqliteIdentityStore;
  jwt: WorkloadJwtVerifier;
  sessions: Sessions;
  login: OidcLogin | null;
  /** For the Slack and Teams channels: chat user → verified reviewer. */
  chatLinks: StoredChatLinks;
  sources: IdentitySources;
  /** Registers /auth/* on the app. */
  register(app: FastifyInstance): Promise<void>;
}

export function createIdentity(
  config: Config,
  store: SqliteStore,
  clock: Clock,
  directory: ReviewerDirectory,
): IdentityParts {
  const identityStore = new SqliteIdentityStore(store);
  const audit = (events: Parameters<SqliteStore['appendEvents']>[0]) => store.appendEvents(events);
  const jwt = new WorkloadJwtVerifier(config.identity.jwtIssuers, clock);
  const sessions = new Sessions(identityStore, config.identity, clock);
  const oidc = config.identity.oidc;
  const login = oidc ? new OidcLogin(oidc, config.identity, identityStore, clock) : null;
  const chatLinks = new StoredChatLinks(identityStore, config.identity, clock, audit);
  return {
    store: identityStore,
    jwt,
    sessions,
    login,
    chatLinks,
    sources: { jwt, sessions },
    async register(app) {
      await app.register(identityRoutes, {
        login,
        sessions,
        chat: chatLinks,
        store: identityStore,
        clock,
        secureCookies: config.identity.sessions.secureCookies,
        audit,
        // Development mode only: sign in as a configured reviewer without an IdP.
        dev: config.dev ? directory : null,
      });
    },
  };
}
