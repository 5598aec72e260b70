/**
 * Every error a user can see has a stable code, an HTTP status and a line that says what to do.
 * The server renders them as RFC 9457 problem details; docs/errors.md is the table of them.
 */
export const errorCodes = {
  CS_ERR_VALIDATION: {
    status: 400,
    title: 'Invalid request',
    fix: 'Correct the fields named in `errors` and send the request again.',
  },
  CS_ERR_BAD_JSON: {
    status: 400,
    title: 'Malformed JSON',
    fix: 'Send a valid JSON body with `Content-Type: application/json`.',
  },
  CS_ERR_UNAUTHENTICATED: {
    status: 401,
    title: 'Missing or invalid credentials',
    fix: 'Send `Authorization: Bearer <key>` with a valid, unrevoked agent key or reviewer token.',
  },
  CS_ERR_FORBIDDEN: {
    status: 403,
    title: 'Not allowed',
    fix: 'Use a credential that is allowed to perform this operation.',
  },
  CS_ERR_SELF_APPROVAL: {
    status: 403,
    title: 'Self-approval refused',
    fix: 'Another eligible reviewer must review this request; nobody reviews a request they or their agent made.',
  },
  CS_ERR_NOT_ELIGIBLE: {
    status: 403,
    title: 'Reviewer not eligible',
    fix: 'Only members of the approver groups named by the matched rule may vote on this request.',
  },
  CS_ERR_STEP_UP_REQUIRED: {
    status: 401,
    title: 'Fresh login required',
    fix: 'Sign in again through the identity provider, then cast the vote within the time the rule allows.',
  },
  CS_ERR_CSRF: {
    status: 403,
    title: 'CSRF token missing or wrong',
    fix: 'Send the x-csrf-token header from GET /auth/session with every state-changing request made with a session cookie.',
  },
  CS_ERR_LOGIN_FAILED: {
    status: 401,
    title: 'Sign-in refused',
    fix: 'Start again from /auth/login; if it keeps failing, ask an administrator to check identity.oidc in the configuration.',
  },
  CS_ERR_IDP_UNAVAILABLE: {
    status: 503,
    title: 'Identity provider unreachable',
    fix: 'The gateway could not reach the identity provider; retry later and check identity.oidc.issuer.',
  },
  CS_ERR_NOT_FOUND: {
    status: 404,
    title: 'Not found',
    fix: 'Check the id; requests are only visible to their actor and to reviewers.',
  },
  CS_ERR_ROUTE_NOT_FOUND: {
    status: 404,
    title: 'No such endpoint',
    fix: 'See /v1/openapi.json for the endpoints this gateway serves.',
  },
  CS_ERR_METHOD_NOT_ALLOWED: {
    status: 405,
    title: 'Method not allowed',
    fix: 'See /v1/openapi.json for the methods of this endpoint.',
  },
  CS_ERR_NOT_PENDING: {
    status: 409,
    title: 'Request is no longer pending',
    fix: 'The request was already decided, expired or cancelled; submit a new action if it is still needed.',
  },
  CS_ERR_ALREADY_VOTED: { status: 409, title: 'Already voted', fix: 'Each reviewer votes once per request.' },
  CS_ERR_ILLEGAL_TRANSITION: {
    status: 409,
    title: 'Illegal state transition',
    fix: 'Read the request state with GET /v1/actions/{id} and act on what it says.',
  },
  CS_ERR_HASH_MISMATCH: {
    status: 409,
    title: 'Action hash does not match',
    fix: 'The approval is bound to the exact action; a changed action must be submitted as a new request.',
  },
  CS_ERR_APPROVAL_EXPIRED: {
    status: 409,
    title: 'Approval no longer valid',
    fix: 'The approved action was not executed within its validity window; submit it again.',
  },
  CS_ERR_RESULT_RECORDED: {
    status: 409,
    title: 'Result already recorded',
    fix: 'An action executes at most once; its result cannot be replaced.',
  },
  CS_ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    title: 'Request body too large',
    fix: 'Keep bodies under the configured limit (server.bodyLimit).',
  },
  CS_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    title: 'Unsupported media type',
    fix: 'Send `Content-Type: application/json`.',
  },
  CS_ERR_POLICY: {
    status: 500,
    title: 'Policy cannot be evaluated',
    fix: 'The gateway fails closed; fix the policy file named in the server log.',
  },
  CS_ERR_UNAVAILABLE: {
    status: 503,
    title: 'Store unavailable',
    fix: 'The gateway failed closed and allowed nothing; retry later and check the server log.',
  },
  CS_ERR_INTERNAL: {
    status: 500,
    title: 'Internal error',
    fix: 'Retry; if it persists, report the correlation id from this response.',
  },
} as const satisfies Record<string, { status: number; title: string; fix: string }>;

export type ErrorCode = keyof typeof errorCodes;

/** An error meant for the user: the message says what was wrong, the code says what to do. */
export class CountersignError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, detail?: string, extra?: Record<string, unknown>) {
    super(detail ?? errorCodes[code].title);
    this.name = 'CountersignError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.extra = extra;
  }
}

export function isCountersignError(e: unknown): e is CountersignError {
  return e instanceof CountersignError;
}
