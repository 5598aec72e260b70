import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { Clock } from '../../core/clock.js';
import { CountersignError } from '../../core/errors.js';
import type { AuditEvent } from '../../core/event.js';
import type { StoredChatLinks } from '../../identity/chat-links.js';
import { cookieName, parseCookies, serializeCookie } from '../../identity/cookies.js';
import { type LoginIntent, LoginRefused, OidcLogin } from '../../identity/oidc.js';
import type { Sessions } from '../../identity/sessions.js';
import type { IdentityStore, OidcIdentity } from '../../identity/store.js';
import type { ReviewerDirectory } from '../../service/auth.js';
import { newSecret } from '../../util/ids.js';
import { devRoutes } from './identity-dev.js';
import { linkRoutes } from './identity-links.js';
import { confirmPage, errors, header, loginEvent, s256, safeReturnTo, same } from './identity-support.js';

export interface IdentityRoutesOptions {
  login: OidcLogin | null;
  sessions: Sessions;
  chat: StoredChatLinks;
  store: IdentityStore;
  clock: Clock;
  secureCookies: boolean;
  audit: (events: AuditEvent[]) => Promise<void>;
  /** Development mode: the reviewers one may sign in as without an IdP; null otherwise. */
  dev?: ReviewerDirectory | null;
}

const CLI_CODE_TTL_MS = 60_000;

/**
 * Browser and CLI sign-in through the configured OIDC provider, reviewer sessions, and the
 * chat identity link flow. Every response here is `Cache-Control: no-store`.
 */
export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRoutesOptions> = async (app, opts) => {
  const { sessions, clock } = opts;
  const loginCookie = cookieName('cs_login', opts.secureCookies);
  const cookie = (name: string, value: string, maxAgeSec: number) =>
    serializeCookie(name, value, { secure: opts.secureCookies, sameSite: 'Lax', maxAgeSec });

  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    // The confirmation page must not be framed (clickjacking a chat link), and URLs carrying a
    // code or state must not leak through the Referer header.
    reply.header('content-security-policy', "default-src 'none'; form-action 'self'; frame-ancestors 'none'");
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
  });
  // The chat-link confirmation is a plain HTML form post.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const oidc = (): OidcLogin => {
    if (!opts.login && opts.dev)
      throw new CountersignError(
        'CS_ERR_NOT_FOUND',
        'OIDC sign-in is not configured; in development mode use /auth/dev',
      );
    if (!opts.login)
      throw new CountersignError('CS_ERR_NOT_FOUND', 'OIDC sign-in is not configured; set identity.oidc');
    return opts.login;
  };

  const start = async (reply: FastifyReply, intent: LoginIntent, maxAgeSec?: number) => {
    const { url, binding } = await oidc().begin({
      intent,
      ...(maxAgeSec !== undefined ? { maxAgeSec } : {}),
    });
    return reply.header('set-cookie', cookie(loginCookie, binding, 600)).redirect(url, 302);
  };

  app.get(
    '/auth/login',
    {
      schema: {
        tags: ['identity'],
        summary: 'Sign in through the identity provider (browser); max_age forces a fresh login (step-up)',
        querystring: Type.Object(
          {
            return_to: Type.Optional(Type.String({ maxLength: 2000 })),
            max_age: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 })),
            cli_redirect: Type.Optional(Type.String({ maxLength: 500 })),
            cli_challenge: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' })),
          },
          { additionalProperties: false },
        ),
        response: errors,
      },
    },
    async (request, reply) => {
      const q = request.query;
      if (!opts.login && opts.dev && q.cli_redirect === undefined)
        return reply.redirect(`/auth/dev?return_to=${encodeURIComponent(safeReturnTo(q.return_to))}`, 302);
      if (q.cli_redirect !== undefined || q.cli_challenge !== undefined) {
        if (!q.cli_redirect || !q.cli_challenge || !OidcLogin.isLoopbackRedirect(q.cli_redirect))
          throw new CountersignError(
            'CS_ERR_VALIDATION',
            'cli_redirect must be an http://127.0.0.1:<port>/ address and cli_challenge an S256 PKCE challenge',
          );
        return start(
          reply,
          { purpose: 'cli', redirect: q.cli_redirect, challenge: q.cli_challenge },
          q.max_age,
        );
      }
      return start(reply, { purpose: 'web', returnTo: safeReturnTo(q.return_to) }, q.max_age);
    },
  );

  app.get(
    '/auth/callback',
    {
      schema: {
        tags: ['identity'],
        summary: 'Where the identity provider returns the browser',
        response: { 200: Type.String(), ...errors },
      },
    },
    async (request, reply) => {
      const url = new URL(request.url, oidc().identityConfig.publicUrl);
      const binding = parseCookies(request.headers.cookie).get(loginCookie);
      let result: Awaited<ReturnType<OidcLogin['finish']>>;
      try {
        result = await oidc().finish(url, binding);
      } catch (e) {
        if (e instanceof LoginRefused) await refused(e);
        throw e;
      }
      const { person, authTime, intent } = result;
      const now = clock.now();
      await opts.store.rememberPerson(person, now);
      reply.header('set-cookie', cookie(loginCookie, '', 0));
      // 0 is how the sign-in says "no auth_time" (it never satisfies step-up); the record says unknown.
      const details = {
        purpose: intent.purpose,
        authTime: authTime > 0 ? authTime : null,
        idpGroups: person.idpGroups,
      };
      await opts.audit([loginEvent('reviewer.login', person, now, details)]);
      if (intent.purpose === 'web') {
        const s = await sessions.create('web', person, authTime);
        const life = Math.floor((s.record.expiresAt - now) / 1000);
        // Fastify appends set-cookie headers: the login cookie is already being cleared above.
        reply.header('set-cookie', cookie(sessions.cookie, s.token, life));
        return reply.redirect(intent.returnTo, 302);
      }
      if (intent.purpose === 'cli') {
        const code = newSecret(32);
        await opts.store.putTicket({
          id: code,
          purpose: 'cli_code',
          expiresAt: now + CLI_CODE_TTL_MS,
          data: { person, authTime, challenge: intent.challenge },
        });
        const back = new URL(intent.redirect);
        back.searchParams.set('code', code);
        return reply.redirect(back.href, 302);
      }
      const ticket = newSecret(32);
      await opts.store.putTicket({
        id: ticket,
        purpose: 'chat_confirm',
        expiresAt: now + 10 * 60_000,
        data: {
          person,
          authTime,
          target: { platform: intent.platform, teamId: intent.teamId, userId: intent.userId },
        },
      });
      return reply.type('text/html; charset=utf-8').send(confirmPage(ticket, intent, person));
    },
  );

  const refused = (e: LoginRefused) =>
    opts.audit([
      {
        kind: 'reviewer.login_refused',
        at: clock.now(),
        requestId: null,
        subject: { type: 'system', id: 'countersign' },
        details: { reason: e.message, ...(e.who ?? {}) },
      },
    ]);

  app.post(
    '/auth/cli/token',
    {
      schema: {
        tags: ['identity'],
        summary: 'Exchange the one-time code from a CLI login for a reviewer token',
        body: Type.Object(
          { code: Type.String({ maxLength: 200 }), verifier: Type.String({ minLength: 43, maxLength: 128 }) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String(), reviewer: Type.String() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const t = await opts.store.takeTicket(request.body.code, 'cli_code', clock.now());
      const data = t?.data as { person: OidcIdentity; authTime: number; challenge: string } | undefined;
      if (!data || !same(s256(request.body.verifier), data.challenge))
        throw new CountersignError(
          'CS_ERR_LOGIN_FAILED',
          'the login code is unknown, used, expired or not yours; run `countersign login` again',
        );
      const s = await sessions.create('cli', data.person, data.authTime);
      return {
        token: s.token,
        expiresAt: new Date(s.record.expiresAt).toISOString(),
        reviewer: data.person.id,
      };
    },
  );

  app.get(
    '/auth/session',
    {
      schema: {
        tags: ['identity'],
        summary: 'The signed-in reviewer and the CSRF token for state-changing requests',
        response: {
          200: Type.Object({
            reviewer: Type.Object({
              id: Type.String(),
              email: Type.String(),
              name: Type.String(),
              groups: Type.Array(Type.String()),
            }),
            authTime: Type.Union([Type.String(), Type.Null()]),
            expiresAt: Type.String(),
            csrfToken: Type.String(),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const token = sessions.tokenFrom(request.headers.cookie);
      if (!token) throw new CountersignError('CS_ERR_UNAUTHENTICATED', 'not signed in; go to /auth/login');
      const s = await sessions.lookup(token, 'web');
      const r = sessions.reviewer(s);
      return {
        reviewer: { id: r.id, email: r.email, name: r.name, groups: r.groups },
        authTime: s.authTime ? new Date(s.authTime).toISOString() : null,
        expiresAt: new Date(s.expiresAt).toISOString(),
        csrfToken: sessions.csrfFor(token),
      };
    },
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['identity'],
        summary: 'End the session (cookie with CSRF token, or CLI bearer token)',
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const bearer = /^bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      const token = bearer ?? sessions.tokenFrom(request.headers.cookie);
      if (!token) throw new CountersignError('CS_ERR_UNAUTHENTICATED', 'no session to end');
      if (!bearer) await sessions.fromCookie(request.headers.cookie, true, header(request, 'x-csrf-token'));
      const s = await sessions.revoke(token);
      if (s) await opts.audit([loginEvent('reviewer.logout', s.person, clock.now(), { session: s.id })]);
      return reply
        .header('set-cookie', cookie(sessions.cookie, '', 0))
        .code(204)
        .send(null);
    },
  );

  if (opts.dev) devRoutes(app, opts.dev, opts, cookie);

  linkRoutes(app, opts, start);
};
