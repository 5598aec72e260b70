import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's own window: a request signed more than five minutes from now, either way, is refused. */
export const maxSkewSeconds = 300;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** `v0=` + hex HMAC-SHA256 of `v0:timestamp:body` with the signing secret. */
export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`, 'utf8').digest('hex')}`;
}

/**
 * Checks X-Slack-Signature over the raw body as it arrived (never a re-serialisation), the
 * timestamp within five minutes in both directions, and compares in constant time. Reasons name
 * what was wrong, never the secret or the expected value.
 */
export function verifySlackRequest(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string,
  nowMs: number,
): SignatureCheck {
  const { timestamp, signature } = headers;
  if (!timestamp || !signature)
    return { ok: false, reason: 'the X-Slack-Signature or X-Slack-Request-Timestamp header is missing' };
  if (!/^\d{1,12}$/.test(timestamp))
    return { ok: false, reason: 'X-Slack-Request-Timestamp is not a number of seconds' };
  const skew = Math.floor(nowMs / 1000) - Number(timestamp);
  if (skew > maxSkewSeconds) return { ok: false, reason: 'the request is more than five minutes old' };
  if (skew < -maxSkewSeconds)
    return { ok: false, reason: 'the request is timestamped more than five minutes in the future' };
  const expected = Buffer.from(slackSignature(secret, timestamp, rawBody), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'the signature does not match the body' };
  }
  return { ok: true };
}
