import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDuration } from '../util/duration.js';
import { editDistance } from '../util/similar.js';
import { parseYaml, pointerToPath, SourceError } from '../util/yaml-source.js';

/**
 * A policy problem a user must fix: where (`file:line:column`), what is wrong, and what to do.
 * It is a SourceError, so the CLI and server report it like any other file error.
 */
export class PolicyError extends SourceError {
  constructor(location: string, problem: string, fix: string) {
    super(location, problem, fix);
    this.name = 'PolicyError';
  }
}

export type YamlPath = ReadonlyArray<string | number>;

/** A parsed YAML file that can say where any path in it was written. */
export interface YamlFile {
  file: string;
  text: string;
  value: unknown;
  where(path: YamlPath): string;
}

/** Parses YAML, failing with file:line:column on syntax errors and duplicate keys; positions point at keys. */
export function parseYamlFile(text: string, file: string): YamlFile {
  try {
    const y = parseYaml(text, file);
    return { file, text, value: y.value, where: y.where };
  } catch (e) {
    if (e instanceof SourceError && !(e instanceof PolicyError))
      throw new PolicyError(e.location, e.problem, e.fix);
    throw e;
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new WeakMap<TSchema, ValidateFunction>();

/** Validates a YAML file against a schema; the deepest error is reported, with its position. */
export function validateYaml<T>(schema: TSchema, file: YamlFile, fix: string): T {
  let check = compiled.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  const value = file.value ?? {};
  if (check(value)) return value as T;
  const errors = [...(check.errors ?? [])].sort((a, b) => b.instancePath.length - a.instancePath.length);
  const best =
    errors.find((e) => e.keyword === 'additionalProperties') && errors[0]?.keyword !== 'additionalProperties'
      ? preferUnknownKey(errors)
      : (errors[0] as ErrorObject);
  const path = pointerToPath(best.instancePath);
  // A union of literals fails once per literal: name them all rather than the first.
  const consts = errors.filter((e) => e.instancePath === best.instancePath && e.keyword === 'const');
  if (best.keyword === 'const' && consts.length > 1) {
    const allowed = consts
      .map((e) => JSON.stringify((e.params as { allowedValue: unknown }).allowedValue))
      .join(', ');
    const got = JSON.stringify(
      path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], value),
    );
    throw new PolicyError(file.where(path), `${path.join('.')} is ${got}; it must be one of ${allowed}`, fix);
  }
  // Point at the unknown key's value rather than at the object holding it.
  const extra =
    best.keyword === 'additionalProperties'
      ? [String((best.params as { additionalProperty: string }).additionalProperty)]
      : [];
  throw new PolicyError(
    file.where([...path, ...extra]),
    describeError(best, path) + didYouMean(schema, extra[0]),
    fix,
  );
}

/** Among equally deep errors, an unknown key is the most useful thing to tell (usually a typo). */
function preferUnknownKey(errors: ErrorObject[]): ErrorObject {
  const depth = errors[0]?.instancePath.length ?? 0;
  return (
    errors.find((e) => e.instancePath.length === depth && e.keyword === 'additionalProperties') ??
    (errors[0] as ErrorObject)
  );
}

/** Every property name the schema knows, to suggest the one a typo meant. */
function keysOf(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) keysOf(s, out);
  else if (schema !== null && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties' && v && typeof v === 'object') for (const name of Object.keys(v)) out.add(name);
      keysOf(v, out);
    }
  }
  return out;
}

function didYouMean(schema: TSchema, key: string | undefined): string {
  if (key === undefined) return '';
  let best: { name: string; d: number } | null = null;
  for (const name of keysOf(schema)) {
    const d = editDistance(key, name);
    if (d <= 2 && (best === null || d < best.d)) best = { name, d };
  }
  return best ? ` (did you mean '${best.name}'?)` : '';
}

function describeError(e: ErrorObject, path: YamlPath): string {
  const at = path.length ? path.join('.') : 'the top level';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown key '${String(p.additionalProperty)}' in ${at}`;
    case 'required':
      return `missing key '${String(p.missingProperty)}' in ${at}`;
    case 'const':
      return `${at} must be ${JSON.stringify(p.allowedValue)}`;
    case 'pattern':
      return `${at} has the wrong form (expected ${String(p.pattern)})`;
    default:
      return `${at} ${e.message ?? 'is invalid'}`;
  }
}

/** `90s`, `15m`, `1h30m`, `2d` → milliseconds. The schema has already checked the form. */
export function durationMs(text: string): number {
  return parseDuration(text) ?? 0;
}
