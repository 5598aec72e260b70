/**
 * Everything an actor controls (type, resource, params, justification) reaches reviewers through
 * these functions. Slack mrkdwn has no escape character, so untrusted text is shown as code:
 * formatting characters are inert there, `&`, `<` and `>` are entity-escaped (so `<!channel>`,
 * `<@U…>` and `<url|label>` cannot form), a backtick is replaced by a look-alike so the text
 * cannot close its code span, and controls, zero-width and bidirectional-override characters —
 * which could hide or reorder what a reviewer reads — are removed.
 */

// C0 (except tab and newline), DEL, C1, zero-width, bidi embeddings/overrides/isolates, BOM, and
// line/paragraph separators.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const invisible = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]/g;

/** Shown in place of a backtick: U+02CB MODIFIER LETTER GRAVE ACCENT. */
export const backtickStandIn = '\u02CB';
const ellipsis = '…';

/** A surrogate without its pair is not text; Slack would show garbage or refuse the message. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Removes invisible characters and lone surrogates, turns tabs into spaces and CRLF into LF. */
export function stripInvisible(text: string): string {
  return text
    .replace(loneSurrogate, '\uFFFD')
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, ' ')
    .replace(invisible, '');
}

/** At most `max` code points (so a surrogate pair is never split); `…` marks a cut. */
export function truncate(text: string, max: number): { text: string; truncated: boolean } {
  const points = Array.from(text);
  if (points.length <= max) return { text, truncated: false };
  return { text: points.slice(0, Math.max(0, max - 1)).join('') + ellipsis, truncated: true };
}

/** The three characters Slack requires escaped in any mrkdwn text. */
export function escapeEntities(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function inert(text: string): string {
  return escapeEntities(text.replace(/`/g, backtickStandIn));
}

export interface Rendered {
  mrkdwn: string;
  truncated: boolean;
}

/** Untrusted text as one line of inline code. */
export function inlineCode(value: string, max: number): Rendered {
  const oneLine = stripInvisible(value).replace(/\n/g, ' ↵ ');
  const { text, truncated } = truncate(oneLine, max);
  if (text.trim() === '') return { mrkdwn: '_(empty)_', truncated };
  return { mrkdwn: `\`${inert(text)}\``, truncated };
}

/** Untrusted text as a preformatted block, newlines kept. */
export function codeBlock(value: string, max: number): Rendered {
  const { text, truncated } = truncate(stripInvisible(value), max);
  if (text.trim() === '') return { mrkdwn: '_(empty)_', truncated };
  return { mrkdwn: `\`\`\`${inert(text)}\`\`\``, truncated };
}

/** Text we write ourselves around untrusted values (names from the directory, error messages). */
export function plainMrkdwn(value: string, max: number): string {
  return escapeEntities(truncate(stripInvisible(value).replace(/\n/g, ' '), max).text);
}

/** For plain_text objects (titles, labels): no markup is parsed there, so only cleaning and length. */
export function plainText(value: string, max: number): string {
  return truncate(stripInvisible(value).replace(/\n/g, ' '), max).text;
}
