import { REDACTED } from '../../config/record.js';

/**
 * Values from an upstream's configuration that must never reach a log line, an audit entry or an
 * agent: one rule for the gateway's upstream connection and for its HTTP client transport. Each
 * applies it to the values it holds: the connection to env, headers and URL secrets, the client
 * transport to the headers it sends.
 */

/** A header value hidden whole and by its parts: `Bearer abc…` hides `abc…` alone too. */
export function withParts(values: readonly string[]): string[] {
  return values.flatMap((v) => [v, ...v.split(/\s+/)]);
}

/**
 * The values worth hiding, longest first (so a secret containing another is hidden whole). Very
 * short values ("1", "true") and auth scheme names are settings, and would garble every message.
 */
export function hideable(values: readonly string[]): string[] {
  return [...new Set(values.filter((v) => v.length >= 6 && !/^(bearer|basic|digest)$/i.test(v)))].sort(
    (a, b) => b.length - a.length,
  );
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  return out;
}
