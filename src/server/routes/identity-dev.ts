import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { CountersignError } from '../../core/errors.js';
import type { OidcIdentity } from '../../identity/store.js';
import type { ReviewerDirectory } from '../../service/auth.js';
import type { IdentityRoutesOptions } from './identity.js';
import { errors, html, loginEvent, page, safeReturnTo } from './identity-support.js';

/**
 * Development login: pick a configured reviewer and get a browser session, no IdP involved.
 * Registered only when `dev` is on (which also prints demo credentials); never in production.
 */
export function devRoutes(
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
