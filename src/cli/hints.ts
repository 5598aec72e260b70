import type { ErrorCode } from '../core/errors.js';

const checkUrl =
  'check that --url (or COUNTERSIGN_URL) is the base URL of a Countersign gateway, such as http://127.0.0.1:8080';

/**
 * The gateway's `fix` lines are written for API clients (`GET /v1/actions/{id}`, `Authorization:
 * Bearer`, a JSON body); at a terminal the same advice is a command or a flag. A code not listed
 * here has a fix that reads the same from both sides.
 */
const cliFixes: Partial<Record<ErrorCode, string>> = {
  CS_ERR_VALIDATION:
    'correct the values named above; `countersign <command> --help` says what each flag takes',
  CS_ERR_UNAUTHENTICATED:
    'pass --token or set COUNTERSIGN_TOKEN to a valid, unrevoked agent key or reviewer token, or run `countersign login`',
  CS_ERR_FORBIDDEN: 'use a credential (--token) that is allowed to do this',
  CS_ERR_STEP_UP_REQUIRED:
    'sign in again with `countersign login --max-age` set to the time named above, then vote again',
  CS_ERR_LOGIN_FAILED:
    'run `countersign login` again; if it keeps failing, ask an administrator to check identity.oidc in the configuration',
  CS_ERR_NOT_FOUND:
    'check the id: `countersign requests list` shows the requests you can see (an agent sees its own, a reviewer all)',
  CS_ERR_ILLEGAL_TRANSITION:
    'see where the request stands with `countersign requests show <id>`, and act on its status',
  CS_ERR_PAYLOAD_TOO_LARGE: "make --params smaller, or raise server.bodyLimit in the gateway's configuration",
  CS_ERR_INTERNAL: "retry; if it persists, give the gateway's operator the correlation id above",
  // The CLI always sends what these ask for: seeing one means --url names something else.
  CS_ERR_BAD_JSON: checkUrl,
  CS_ERR_CSRF: checkUrl,
  CS_ERR_ROUTE_NOT_FOUND: checkUrl,
  CS_ERR_METHOD_NOT_ALLOWED: checkUrl,
  CS_ERR_UNSUPPORTED_MEDIA_TYPE: checkUrl,
};

/** What to do, in CLI terms, about a problem the gateway answered with `code` and `fix`. */
export function cliHint(code: string, fix: string): string {
  return cliFixes[code as ErrorCode] ?? fix;
}

/** `body/hash`, `querystring/status`: the field as the user knows it, without the HTTP part. */
export function fieldName(path: string): string {
  return path.replace(/^(body|querystring|params)\//, '');
}
