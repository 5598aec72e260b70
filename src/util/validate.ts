import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { pointerToPath, SourceError, type YamlSource } from './yaml-source.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = addFormats(new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: false }));

function describe(e: ErrorObject): { path: Array<string | number>; problem: string } {
  const path = pointerToPath(e.instancePath);
  const at = path.length ? path.join('.') : 'the top level';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return {
        path: [...path, String(p.additionalProperty)],
        problem: `unknown key '${String(p.additionalProperty)}' in ${at}`,
      };
    case 'required':
      return { path, problem: `missing key '${String(p.missingProperty)}' in ${at}` };
    case 'enum':
      return {
        path,
        problem: `${at} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`,
      };
    default:
      return { path, problem: `${at} ${e.message ?? 'is invalid'}` };
  }
}

const preference: Record<string, number> = { additionalProperties: 0, required: 1 };

/**
 * The error worth showing first: the deepest one (Ajv reports every branch of a union), and at
 * equal depth an unknown key before a missing one, since a typo causes both.
 */
function best(errors: ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject) => pointerToPath(e.instancePath).length;
  return [...errors].sort(
    (a, b) => depth(b) - depth(a) || (preference[a.keyword] ?? 2) - (preference[b.keyword] ?? 2),
  )[0] as ErrorObject;
}

/** `did you mean 'match'?` when an unknown key sits where a required one is missing. */
function suggestion(chosen: ErrorObject, errors: ErrorObject[]): string {
  if (chosen.keyword !== 'additionalProperties') return '';
  const missing = errors.find((e) => e.keyword === 'required' && e.instancePath === chosen.instancePath);
  return missing
    ? ` (did you mean '${String((missing.params as Record<string, unknown>).missingProperty)}'?)`
    : '';
}

/** Validates a parsed YAML file against a schema, failing with file:line:column and what to do. */
export function validateSource<S extends TSchema>(schema: S, source: YamlSource, fix: string): Static<S> {
  const check = ajv.compile(schema);
  const value = source.value ?? {};
  if (check(value)) return value as Static<S>;
  const errors = check.errors ?? [];
  const chosen = best(errors);
  const { path, problem } = describe(chosen);
  throw new SourceError(source.where(path), problem + suggestion(chosen, errors), fix);
}
