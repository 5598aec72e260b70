import { InvalidArgumentError } from 'commander';
import { CountersignError } from '../core/errors.js';
import { CountersignApiError } from '../sdk/client.js';
import { SourceError } from '../util/yaml-source.js';

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

/** Prints an error the way a user can act on it and returns the exit code it deserves. */
export function report(error: unknown): number {
  if (error instanceof CountersignApiError) {
    const p = error.problem;
    process.stderr.write(`error: ${p.title}${p.detail ? `: ${p.detail}` : ''}\n`);
    for (const e of p.errors ?? []) process.stderr.write(`  ${e.path} ${e.message}\n`);
    if (p.fix) process.stderr.write(`hint: ${p.fix}\n`);
    return p.status >= 500 ? exit.failure : exit.apiError;
  }
  if (error instanceof SourceError) {
    process.stderr.write(`error: ${error.message}\n`);
    return exit.usage;
  }
  if (error instanceof CountersignError) {
    process.stderr.write(`error: ${error.message}\n`);
    return error.status < 500 ? exit.apiError : exit.failure;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`error: ${error.message}\n`);
    return exit.usage;
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    process.stderr.write(
      `error: cannot reach the gateway (${cause?.code ?? cause?.message ?? 'network error'}); is \`countersign serve\` running? Set --url or COUNTERSIGN_URL.\n`,
    );
    return exit.failure;
  }
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  return exit.failure;
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
