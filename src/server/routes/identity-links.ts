import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { CountersignError } from '../../core/errors.js';
import type { LoginIntent } from '../../identity/oidc.js';
import type { OidcIdentity } from '../../identity/store.js';
import type { IdentityRoutesOptions } from './identity.js';
import { errors, html, page } from './identity-support.js';

/**
 * Chat identity links: the bot's single-use link starts an OIDC sign-in (purpose `chat`); after
 * the callback shows the confirmation page, the confirmation records the link.
 */
export function linkRoutes(
  app: Parameters<FastifyPluginAsyncTypebox<IdentityRoutesOptions>>[0],
  opts: IdentityRoutesOptions,
  start: (reply: FastifyReply, intent: LoginIntent) => Promise<FastifyReply>,
) {
  const { chat, clock } = opts;
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
      if (!opts.login)
        throw new CountersignError('CS_ERR_NOT_FOUND', 'OIDC sign-in is not configured; set identity.oidc');
      const target = await chat.redeem(request.params.ticket);
      if (!target)
        throw new CountersignError(
          'CS_ERR_LOGIN_FAILED',
          'this link is unknown, used or expired; ask the bot for a new one',
        );
      await start(reply, { purpose: 'chat', ...target });
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
}
