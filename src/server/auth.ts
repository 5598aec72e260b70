import type { FastifyReply, FastifyRequest } from 'fastify';
import { CountersignError } from '../core/errors.js';
import type { Actor, Reviewer } from '../core/identity.js';
import { type Authenticator, bearerToken, type Caller } from '../service/auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller | null;
  }
}

/** onRequest hooks: authentication runs before the body is even parsed. */
export function authHooks(authenticator: Authenticator) {
  const load = async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization);
    const cookie = request.headers.cookie;
    // A bearer token wins; a reviewer session cookie is the browser's way in (with CSRF checks).
    request.caller =
      token === undefined && authenticator.hasSessionCookie(cookie)
        ? await authenticator.authenticateCookie({
            cookie,
            method: request.method,
            csrf: request.headers['x-csrf-token'] as string | undefined,
          })
        : await authenticator.authenticate(token);
    return request.caller;
  };
  return {
    actor: async (request: FastifyRequest, _reply: FastifyReply) => {
      const caller = await load(request);
      if (caller.kind !== 'actor')
        throw new CountersignError('CS_ERR_FORBIDDEN', 'this endpoint is for agents; use an agent key');
    },
    reviewer: async (request: FastifyRequest, _reply: FastifyReply) => {
      const caller = await load(request);
      if (caller.kind !== 'reviewer')
        throw new CountersignError(
          'CS_ERR_FORBIDDEN',
          'this endpoint is for reviewers; use a reviewer token',
        );
    },
    any: async (request: FastifyRequest, _reply: FastifyReply) => {
      await load(request);
    },
  };
}

export function actorOf(request: FastifyRequest): Actor {
  const c = request.caller;
  if (c?.kind !== 'actor') throw new CountersignError('CS_ERR_FORBIDDEN');
  return c.actor;
}

export function reviewerOf(request: FastifyRequest): Reviewer {
  const c = request.caller;
  if (c?.kind !== 'reviewer') throw new CountersignError('CS_ERR_FORBIDDEN');
  return c.reviewer;
}

/** The caller as the service wants it for read access checks. */
export function viewer(request: FastifyRequest): { actor?: Actor; reviewer?: Reviewer } {
  const c = request.caller;
  if (c?.kind === 'actor') return { actor: c.actor };
  if (c?.kind === 'reviewer') return { reviewer: c.reviewer };
  throw new CountersignError('CS_ERR_UNAUTHENTICATED');
}
