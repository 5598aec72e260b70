import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { AuditEvent } from '../../core/event.js';
import type { LoginIntent } from '../../identity/oidc.js';
import type { OidcIdentity } from '../../identity/store.js';
import { Problem } from '../schemas.js';

/** Small helpers shared by the /auth routes: redirects, comparisons, events and HTML pages. */

export const errors = { 400: Problem, 401: Problem, 403: Problem, 503: Problem };

/** Only a path on this gateway: `//evil.example` or `https://…` would be an open redirect. */
export function safeReturnTo(value: string | undefined): string {
  return value && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : '/';
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

export function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function loginEvent(
  kind: 'reviewer.login' | 'reviewer.logout',
  person: OidcIdentity,
  at: number,
  details: Record<string, string | number | string[] | null>,
): AuditEvent {
  return {
    kind,
    at,
    requestId: null,
    subject: { type: 'reviewer', id: person.id },
    details: { email: person.email, ...details },
  };
}

export function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export function page(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${html(title)}</title></head><body>${body}</body></html>`;
}

/** The person sees exactly which chat account they are about to bind to their identity. */
export function confirmPage(
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
