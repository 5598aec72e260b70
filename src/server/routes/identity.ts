import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
import { Problem } from '../schemas.js';

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
const errors = { 400: Problem, 401: Problem, 403: Problem, 503: Problem };

/** Only a path on this gateway: `//evil.example` or `https://…` would be an open redirect. */
function safeReturnTo(value: string | undefined): string {
  return value && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : '/';
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginEvent(
  kind: 'reviewer.login' | 'reviewer.logout',
  person: OidcIdentity,
  at: number,
  details: Record<string, string | number | string[]>,
): AuditEvent {
  return {
    kind,
    at,
    requestId: null,
    subject: { type: 'reviewer', id: person.id },
    details: { email: person.email, ...details },
  };
}

/**
 * Browser and CLI sign-in through the configured OIDC provider, reviewer sessions, and the
 * chat identity link flow. Every response here is `Cache-Control: no-store`.
 */
export const identityRoutes: FastifyPluginAsyncTypebox<IdentityRoutesOptions> = async (app, opts) => {
  const { sessions, chat, clock } = opts;
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
      const details = { purpose: intent.purpose, authTime, idpGroups: person.idpGroups };
      await opts.audit([loginEvent('reviewer.login', person, now, details)]);
      if (intent.purpose === 'web') {
        const s = await sessions.create('web', person, authTime);
        const life = Math.floor((s.record.expiresAt - now) / 1000);
        reply.header('set-cookie', [cookie(loginCookie, '', 0), cookie(sessions.cookie, s.token, life)]);
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

  app.get(
    '/auth/link/:ticket',
    {
      schema: {
        tags: ['identity'],
        summary: 'Start linking a chat account (from the link the bot sent)',
        params: Type.Object({ ticket: Type.String({ maxLength: 200 }) }),
        response: errors,
      },
    },
    async (request, reply) => {
      oidc();
      const target = await chat.redeem(request.params.ticket);
      if (!target)
        throw new CountersignError(
          'CS_ERR_LOGIN_FAILED',
          'this link is unknown, used or expired; ask the bot for a new one',
        );
      return start(reply, { purpose: 'chat', ...target });
    },
  );

  app.post(
    '/auth/link/confirm',
    {
      schema: {
        tags: ['identity'],
        summary: 'Confirm a chat account link after signing in',
        body: Type.Object({ ticket: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: Type.String(), ...errors },
      },
    },
    async (request, reply) => {
      const t = await opts.store.takeTicket(request.body.ticket, 'chat_confirm', clock.now());
      if (!t)
        throw new CountersignError(
          'CS_ERR_LOGIN_FAILED',
          'this confirmation is unknown, used or expired; ask the bot for a new link',
        );
      const data = t.data as unknown as {
        person: OidcIdentity;
        authTime: number;
        target: { platform: 'slack' | 'teams'; teamId: string; userId: string };
      };
      await chat.complete(data.target, data.person, data.authTime);
      return reply
        .type('text/html; charset=utf-8')
        .send(
          page(
            'Linked',
            `<p>Your ${html(data.target.platform)} account is now linked to ${html(data.person.email)}. You can close this tab.</p>`,
          ),
        );
    },
  );
};

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${html(title)}</title></head><body>${body}</body></html>`;
}

/** The person sees exactly which chat account they are about to bind to their identity. */
function confirmPage(
  ticket: string,
  intent: Extract<LoginIntent, { purpose: 'chat' }>,
  person: OidcIdentity,
) {
  return page(
    'Link chat account',
    `<h1>Link ${html(intent.platform)} account?</h1>
<p>Signed in as <strong>${html(person.email)}</strong>.</p>
<p>Link ${html(intent.platform)} user <code>${html(intent.userId)}</code> in workspace <code>${html(intent.teamId)}</code> to this identity?
Votes from that chat account will then count as yours. Only continue if you clicked a link the bot sent to <em>you</em>.</p>
<form method="post" action="/auth/link/confirm"><input type="hidden" name="ticket" value="${html(ticket)}"><button type="submit">Link my account</button></form>`,
  );
}

/**
 * Development login: pick a configured reviewer and get a browser session, no IdP involved.
 * Registered only when `dev` is on (which also prints demo credentials); never in production.
 */
function devRoutes(
  app: Parameters<FastifyPluginAsyncTypebox<IdentityRoutesOptions>>[0],
  directory: ReviewerDirectory,
  opts: IdentityRoutesOptions,
  cookie: (name: string, value: string, maxAgeSec: number) => string,
) {
  app.get(
    '/auth/dev',
    {
      schema: {
        tags: ['identity'],
        summary: 'Development mode: choose a demo reviewer to sign in as',
        querystring: Type.Object({ return_to: Type.Optional(Type.String({ maxLength: 2000 })) }),
        response: { 200: Type.String() },
      },
    },
    async (request, reply) => {
      const back = html(safeReturnTo(request.query.return_to));
      const buttons = directory
        .list()
        .map(
          (r) =>
            `<form method="post" action="/auth/dev/login"><input type="hidden" name="reviewer" value="${html(r.id)}"><input type="hidden" name="return_to" value="${back}"><button type="submit">${html(r.name)} &lt;${html(r.email)}&gt; (${html(r.groups.join(', '))})</button></form>`,
        )
        .join('\n');
      return reply
        .type('text/html; charset=utf-8')
        .send(
          page(
            'Development sign-in',
            `<h1>Development sign-in</h1><p>No identity provider: development mode only.</p>${buttons}`,
          ),
        );
    },
  );
  app.post(
    '/auth/dev/login',
    {
      schema: {
        tags: ['identity'],
        summary: 'Development mode: sign in as a demo reviewer',
        body: Type.Object(
          {
            reviewer: Type.String({ maxLength: 320 }),
            return_to: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: errors,
      },
    },
    async (request, reply) => {
      const r = directory.get(request.body.reviewer);
      if (!r)
        throw new CountersignError(
          'CS_ERR_NOT_FOUND',
          `${request.body.reviewer} is not a configured reviewer`,
        );
      const person: OidcIdentity = {
        id: r.id,
        issuer: 'dev',
        subject: r.id,
        email: r.email,
        name: r.name,
        idpGroups: r.groups,
      };
      const now = opts.clock.now();
      await opts.audit([
        loginEvent('reviewer.login', person, now, { purpose: 'dev', authTime: now, idpGroups: r.groups }),
      ]);
      const s = await opts.sessions.create('web', person, now);
      const life = Math.floor((s.record.expiresAt - now) / 1000);
      return reply
        .header('set-cookie', cookie(opts.sessions.cookie, s.token, life))
        .redirect(safeReturnTo(request.body.return_to), 302);
    },
  );
}
