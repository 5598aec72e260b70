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

/** Most specific error first: Ajv reports every branch of a union, the deepest one is the useful one. */
function best(errors: ErrorObject[]): ErrorObject {
  return [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length)[0] as ErrorObject;
}

/** Validates a parsed YAML file against a schema, failing with file:line:column and what to do. */
export function validateSource<S extends TSchema>(schema: S, source: YamlSource, fix: string): Static<S> {
  const check = ajv.compile(schema);
  const value = source.value ?? {};
  if (check(value)) return value as Static<S>;
  const { path, problem } = describe(best(check.errors ?? []));
  throw new SourceError(source.where(path), problem, fix);
}

/** Validates a plain value (already parsed JSON) against a schema. */
export function validateValue<S extends TSchema>(
  schema: S,
  value: unknown,
): { ok: true; value: Static<S> } | { ok: false; problems: string[] } {
  const check = ajv.compile(schema);
  if (check(value)) return { ok: true, value: value as Static<S> };
  return { ok: false, problems: (check.errors ?? []).map((e) => describe(e).problem) };
}
