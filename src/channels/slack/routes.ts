import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../../core/clock.js';
import { CountersignError } from '../../core/errors.js';
import type { SlackInteractions } from './interactions.js';
import { verifySlackRequest } from './verify.js';

export interface SlackRoutesOptions {
  interactions: SlackInteractions;
  signingSecret: string;
  clock: Clock;
}

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/**
 * POST /v1/slack/interactivity — Slack's Interactivity Request URL. Authenticated by Slack's
 * request signature alone (no bearer token): the body is kept raw for the HMAC, and is parsed
 * only after the signature and the timestamp check out.
 */
export const slackRoutes: FastifyPluginAsync<SlackRoutesOptions> = async (
  app,
  { interactions, signingSecret, clock },
) => {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );
  app.post('/v1/slack/interactivity', { schema: { hide: true } }, async (request, reply) => {
    if (typeof request.body !== 'string') {
      throw new CountersignError(
        'CS_ERR_UNSUPPORTED_MEDIA_TYPE',
        'Slack interactions arrive as application/x-www-form-urlencoded',
      );
    }
    const raw = request.body;
    const signature = header(request.headers['x-slack-signature']);
    const check = verifySlackRequest(
      signingSecret,
      { timestamp: header(request.headers['x-slack-request-timestamp']), signature },
      raw,
      clock.now(),
    );
    if (!check.ok) {
      request.log.warn({ reason: check.reason }, 'Slack request refused');
      throw new CountersignError(
        'CS_ERR_UNAUTHENTICATED',
        `Slack request signature check failed: ${check.reason}`,
      );
    }
    let payload: unknown;
    try {
      payload = JSON.parse(new URLSearchParams(raw).get('payload') ?? '');
    } catch {
      throw new CountersignError('CS_ERR_BAD_JSON', 'the Slack payload field is not valid JSON');
    }
    // An identical signed request is an exact replay: refuse it even before reading the payload.
    const key = `http:${createHash('sha256').update(String(signature)).digest('hex')}`;
    const result = await interactions.handle(payload, key);
    if (result.status >= 400) {
      throw new CountersignError(
        result.status === 403 ? 'CS_ERR_FORBIDDEN' : 'CS_ERR_VALIDATION',
        result.status === 403
          ? 'this Slack workspace or app is not allowed (slack.teamIds, slack.appIds)'
          : 'the Slack payload is missing fields this endpoint needs',
      );
    }
    // Slack wants an empty 200 to close a modal or acknowledge a click; a body only for modal errors.
    return result.body ? reply.code(200).send(result.body) : reply.code(200).send();
  });
};
