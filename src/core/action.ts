import { hash } from 'node:crypto';

/** A JSON value as it arrives from an edge and is hashed by RFC 8785. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What an actor wants to do. Only type, resource and params are bound by the approval hash. */
export interface Action {
  /** Dotted name: `mcp.tools.call`, `sql.statement`, `exec.command`, `aws.iam.attach_role_policy`. */
  type: string;
  /** What the action touches, for example `prod/db/orders` or `github/org/repo`. */
  resource: string;
  params: { [key: string]: Json };
  /** Why the actor wants it; shown to reviewers, not part of the hash. */
  justification: string;
}

/**
 * RFC 8785 (JCS) serialization. JCS defines strings and numbers as ECMAScript's JSON.stringify
 * writes them, and object members sorted by UTF-16 code units, which is what `sort()` does.
 * Every audit entry and action hash goes through here; the `canonicalize` package (the reference
 * the tests compare against) builds each level by repeated string concatenation in `reduce`,
 * which made it a third of the cost of an audit append.
 */
export function canonicalJson(value: unknown): string {
  const text = serialize(value);
  if (text === undefined) throw new TypeError('value cannot be canonicalized');
  return text;
}

// Characters JSON.stringify escapes: quote, backslash, controls, and surrogates (lone ones are
// written as \u escapes). Strings without any, the common case, are quoted as they are.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly the escaped characters.
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/;

const quote = (s: string): string => (needsEscape.test(s) ? JSON.stringify(s) : `"${s}"`);

function serialize(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'number':
      if (!Number.isFinite(v))
        throw new Error(Number.isNaN(v) ? 'NaN is not allowed' : 'Infinity is not allowed');
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      return v === null ? 'null' : serializeObject(v as Record<string, unknown>);
    default:
      // undefined, functions and symbols have no JSON form; bigint throws, as JSON.stringify does.
      return JSON.stringify(v);
  }
}

function serializeObject(o: Record<string, unknown>): string | undefined {
  if (typeof o.toJSON === 'function') return serialize(o.toJSON());
  if (Array.isArray(o)) {
    let out = '[';
    for (let i = 0; i < o.length; i++) {
      const x: unknown = o[i];
      if (i > 0) out += ',';
      out += x === undefined || typeof x === 'symbol' ? 'null' : serialize(x);
    }
    return `${out}]`;
  }
  let out = '{';
  for (const key of Object.keys(o).sort()) {
    const x = o[key];
    if (x === undefined || typeof x === 'symbol') continue;
    if (out.length > 1) out += ',';
    out += `${quote(key)}:${serialize(x)}`;
  }
  return `${out}}`;
}

/**
 * RFC 8785 canonical JSON of the parts of an action an approval is bound to.
 * The justification is deliberately left out: rewording the reason does not change what runs.
 */
export function canonicalAction(action: Pick<Action, 'type' | 'resource' | 'params'>): string {
  return canonicalJson({ type: action.type, resource: action.resource, params: action.params });
}

/** Lower-case hex SHA-256 of the canonical action. */
export function actionHash(action: Pick<Action, 'type' | 'resource' | 'params'>): string {
  return hash('sha256', canonicalAction(action), 'hex');
}

/** The first 12 hex characters, as shown to reviewers next to the full hash. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}
