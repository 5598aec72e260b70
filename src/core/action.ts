import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// canonicalize is CommonJS (`module.exports = fn`) while its types declare a default export.
const canonicalize = canonicalizeModule as unknown as (input: unknown) => string | undefined;

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
 * RFC 8785 canonical JSON of the parts of an action an approval is bound to.
 * The justification is deliberately left out: rewording the reason does not change what runs.
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value cannot be canonicalized');
  return text;
}

export function canonicalAction(action: Pick<Action, 'type' | 'resource' | 'params'>): string {
  return canonicalJson({ type: action.type, resource: action.resource, params: action.params });
}

/** Lower-case hex SHA-256 of the canonical action. */
export function actionHash(action: Pick<Action, 'type' | 'resource' | 'params'>): string {
  return createHash('sha256').update(canonicalAction(action), 'utf8').digest('hex');
}

/** The first 12 hex characters, as shown to reviewers next to the full hash. */
export function shortHash(hash: string): string {
  return hash.slice(0, 12);
}
