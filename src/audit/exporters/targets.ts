import type { Exporter } from './exporter.js';
import { jsonlExporter } from './jsonl.js';
import { ocsfLine } from './ocsf.js';
import { otlpExporter } from './otlp.js';
import { parseSyslogUrl, syslogExporter } from './syslog.js';

/**
 * Builds an exporter from a target string:
 *   jsonl:/path/audit.jsonl   ocsf:/path/ocsf.jsonl
 *   syslog+udp://host:514     syslog+tcp://host:601
 *   otlp+http://host:4318/v1/logs  (or otlp+https://…)
 */
export function exporterFor(target: string): Exporter {
  if (target.startsWith('jsonl:')) return jsonlExporter(target.slice(6), { name: target });
  if (target.startsWith('ocsf:')) return jsonlExporter(target.slice(5), { name: target, format: ocsfLine });
  if (target.startsWith('syslog+')) return syslogExporter(parseSyslogUrl(target), target);
  if (target.startsWith('otlp+http')) return otlpExporter(target.slice(5));
  throw new Error(
    `unknown export target ${JSON.stringify(target)}; use jsonl:FILE, ocsf:FILE, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT[?ca=FILE] or otlp+http://HOST:PORT/v1/logs`,
  );
}

/**
 * A target as it may be shown: user, password and query values of any URL in it are masked, so a
 * sink's credentials written into its URL do not end up in a terminal or a CI log.
 */
export function displayTarget(text: string): string {
  // Punctuation right after a URL (`…/logs: connect ECONNREFUSED`) is not part of it.
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s]*[^\s:;,.)]/gi, (url) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return url;
    }
    if (!u.username && !u.password && !u.search) return url;
    if (u.username) u.username = '***';
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) u.searchParams.set(key, '***');
    return u.href.replaceAll('%2A%2A%2A', '***');
  });
}
