import { InvalidArgumentError } from 'commander';
import { CountersignError } from '../core/errors.js';
import { CountersignApiError, type Problem } from '../sdk/client.js';
import { SourceError } from '../util/yaml-source.js';
import { cliHint, fieldName } from './hints.js';

/** Exit codes, documented in docs/cli.md. Scripts rely on them: never renumber. */
export const exit = {
  ok: 0,
  failure: 1,
  usage: 2,
  refused: 3,
  pending: 4,
  apiError: 5,
} as const;

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns for human output. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '))
    .join('\n');
}

/**
 * One failure, from which both the human lines (stderr) and the `--json` document (stdout) are
 * made, so that the two never say different things.
 */
interface Failure {
  exitCode: number;
  /** A gateway error code (`CS_ERR_…`), or one of the CLI's own: docs/cli.md#json-output. */
  code: string;
  message: string;
  /** The flag, path or `file:line:column` at fault, when there is one. */
  where?: string;
  hint?: string;
}

function apiFailure(p: Problem): Failure {
  // The detail of a validation problem lists its errors, one per schema branch that failed: a
  // bad value in a union is the same line many times.
  const fields = [...new Set((p.errors ?? []).map((e) => `${fieldName(e.path)} ${e.message}`))];
  const detail = fields.length > 0 ? fields.join('; ') : p.detail;
  const hint = cliHint(p.code, p.fix);
  return {
    exitCode: p.status >= 500 ? exit.failure : exit.apiError,
    code: p.code,
    message: `${p.title}${detail ? `: ${detail}` : ''}`,
    ...(hint ? { hint } : {}),
  };
}

/** What undici says went wrong under a failed `fetch`: an error code, or its message when it has none. */
export function networkCause(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message;
}

/** The gateway could not be asked, or what answered is not one: exit 1, `unreachable` in JSON. */
export class GatewayUnreachable extends Error {
  override name = 'GatewayUnreachable';
}

function unreachable(error: TypeError): Failure {
  return {
    exitCode: exit.failure,
    code: 'unreachable',
    message: `cannot reach the gateway (${networkCause(error) ?? 'network error'}); is \`countersign serve\` running? Set --url or COUNTERSIGN_URL.`,
  };
}

function failureOf(error: unknown): Failure {
  if (error instanceof CountersignApiError) return apiFailure(error.problem);
  if (error instanceof SourceError)
    return { exitCode: exit.usage, code: 'invalid_file', message: error.message, where: error.location };
  if (error instanceof CountersignError)
    return {
      exitCode: error.status < 500 ? exit.apiError : exit.failure,
      code: error.code,
      message: error.message,
    };
  if (error instanceof UsageError)
    return {
      exitCode: exit.usage,
      code: 'usage',
      message: error.message,
      ...(error.where ? { where: error.where } : {}),
    };
  if (error instanceof TypeError && error.message === 'fetch failed') return unreachable(error);
  if (error instanceof GatewayUnreachable)
    return { exitCode: exit.failure, code: 'unreachable', message: error.message };
  return {
    exitCode: exit.failure,
    code: 'error',
    message: error instanceof Error ? error.message : String(error),
  };
}

/** The one JSON document a `--json` run prints on stdout when it fails. */
export function printFailure(f: Pick<Failure, 'code' | 'message' | 'where' | 'hint'>): void {
  const { code, message, where, hint } = f;
  printJson({ ok: false, error: { code, message, ...(where ? { where } : {}), ...(hint ? { hint } : {}) } });
}

/**
 * Prints an error the way a user can act on it and returns the exit code it deserves. With
 * `json`, a script also gets the failure as JSON on stdout: it must never find stdout empty.
 */
export function report(error: unknown, opts: { json?: boolean } = {}): number {
  const f = failureOf(error);
  process.stderr.write(`error: ${f.message}\n`);
  if (f.hint) process.stderr.write(`hint: ${f.hint}\n`);
  if (opts.json) printFailure(f);
  return f.exitCode;
}

/** The command line is wrong (exit 2). `where` names the flag or the path at fault. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A commander argument parser for a whole number in [min, max]: anything else (abc, -1, 1.5,
 * 99999 for a port) is bad usage, exit 2, with the range in the message.
 */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}
