import { createHmac } from 'node:crypto';

/** The key bytes of a Standard Webhooks secret: base64 after the `whsec_` prefix. */
export function secretKey(secret: string): Buffer {
  const raw = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  const key = Buffer.from(raw, 'base64');
  if (key.length < 16) throw new Error('a webhook secret must hold at least 16 bytes of base64 after whsec_');
  return key;
}

/**
 * The `webhook-signature` header of the Standard Webhooks specification: `v1,<base64 HMAC-SHA256
 * of "id.timestamp.body">` for every secret, space separated. During a rotation two secrets sign,
 * so receivers holding either the new or the old one keep verifying.
 */
export function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): string {
  const content = `${id}.${timestamp}.${body}`;
  return secrets
    .map((s) => `v1,${createHmac('sha256', secretKey(s)).update(content, 'utf8').digest('base64')}`)
    .join(' ');
}

/** The three headers that carry id, time (seconds) and signatures. */
export function webhookHeaders(
  secrets: readonly string[],
  id: string,
  nowMs: number,
  body: string,
): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(secrets, id, timestamp, body),
  };
}
