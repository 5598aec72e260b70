import { mkdirSync, readFileSync, statSync, type WriteFileOptions, writeFileSync } from 'node:fs';
import { UsageError } from './output.js';

/*
 * Paths named on the command line. A path that cannot be used is the user's to fix, so it is bad
 * usage (exit 2) said in one line: the path, what it was for and why it failed, and what to do;
 * never Node's `ENOENT: no such file or directory, open '…'`.
 */

const reasons: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory, not a file',
  EEXIST: 'a file of that name is in the way',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
};

function pathError(path: string, doing: string, error: unknown, fix: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  // Not a file system error: a bug, to be reported as one.
  if (!code) return error as Error;
  return new UsageError(`${path}: cannot ${doing} (${reasons[code] ?? code}); ${fix}`, path);
}

/** The text of a file the user named; `what` says what it is for, e.g. "--params file". */
export function readArgFile(path: string, what: string, fix: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw pathError(path, `read the ${what}`, e, fix);
  }
}

/** Like readArgFile, for a file the command creates when it does not exist yet. */
export function readOptionalArgFile(path: string, what: string, fix: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw pathError(path, `read the ${what}`, e, fix);
  }
}

export function writeArgFile(
  path: string,
  text: string,
  what: string,
  fix: string,
  options?: WriteFileOptions,
): void {
  try {
    writeFileSync(path, text, options);
  } catch (e) {
    throw pathError(path, `write the ${what}`, e, fix);
  }
}

/** A directory the user named, which must exist. */
export function requireArgDir(path: string, what: string, fix: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    throw pathError(path, `open the ${what}`, e, fix);
  }
  if (!isDir) throw new UsageError(`${path}: is a file, not a directory; ${fix}`, path);
}

/** Creates a directory the user named (and its parents) unless it is one already. */
export function makeArgDir(path: string, what: string, fix: string, mode?: number): void {
  try {
    mkdirSync(path, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  } catch (e) {
    throw pathError(path, `create the ${what}`, e, fix);
  }
}

/** A JSON file the command keeps (`--state`): absent is fine, it is created on first use. */
export function checkStateFile(path: string, what: string): void {
  const text = readOptionalArgFile(path, what, 'give --state a file path; it is created on first use');
  if (text === undefined) return;
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError(`${path}: the ${what} is not valid JSON; restore it from a backup`, path);
  }
}

/** A JSON object given on the command line as `--flag '{"k":…}'` or `--flag @file.json`. */
export function jsonObjectArg(flag: string, value: string): Record<string, unknown> {
  const text = value.startsWith('@')
    ? readArgFile(value.slice(1), `${flag} file`, 'check the path after @, or pass the JSON object itself')
    : value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      `${flag} is not valid JSON (${(e as Error).message}); pass a JSON object or @file.json`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`${flag} must be a JSON object`);
  return parsed as Record<string, unknown>;
}
