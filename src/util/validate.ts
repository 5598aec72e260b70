import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { closest } from './similar.js';
import { pointerToPath, SourceError, type YamlSource } from './yaml-source.js';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext resolution.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// verbose: each error carries the schema object it came from, whose `properties` are the keys
// known where an unknown one was found.
const ajv = addFormats(
  new Ajv({ allErrors: true, strict: false, useDefaults: true, coerceTypes: false, verbose: true }),
);

/** One of an Ajv error's params, as text: the unknown key, the missing one, the allowed value. */
const param = (e: ErrorObject, name: string) => String((e.params as Record<string, unknown>)[name]);

function describe(e: ErrorObject, errors: ErrorObject[]): { path: Array<string | number>; problem: string } {
  const path = pointerToPath(e.instancePath);
  const at = path.length ? path.join('.') : 'the top level';
  switch (e.keyword) {
    case 'additionalProperties':
      return {
        path: [...path, param(e, 'additionalProperty')],
        problem: `unknown key '${param(e, 'additionalProperty')}' in ${at}`,
      };
    case 'required':
      return { path, problem: `missing key '${param(e, 'missingProperty')}' in ${at}` };
    case 'enum':
      return {
        path,
        problem: `${at} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map(String).join(', ')}`,
      };
    case 'const': {
      // A union of literals (`mode: http | socket`) fails once per literal: name them all.
      const allowed = errors
        .filter((o) => o.keyword === 'const' && o.instancePath === e.instancePath)
        .map((o) => param(o, 'allowedValue'));
      return { path, problem: `${at} must be one of ${[...new Set(allowed)].join(', ')}` };
    }
    default:
      return { path, problem: `${at} ${e.message ?? 'is invalid'}` };
  }
}

const preference: Record<string, number> = { additionalProperties: 0, required: 1 };

const unknownKey = (e: ErrorObject) =>
  e.keyword === 'additionalProperties' ? `${e.instancePath}/${param(e, 'additionalProperty')}` : null;

/**
 * The error worth showing first: the deepest one (Ajv reports every branch of a union), and at
 * equal depth an unknown key before a missing one, since a typo causes both. Among unknown keys,
 * the one the most union branches reject: `url` is unknown only to the command branch of an MCP
 * upstream, a typo in `headers` to both.
 */
function best(errors: ErrorObject[]): ErrorObject {
  const depth = (e: ErrorObject) => pointerToPath(e.instancePath).length;
  const rejections = new Map<string, number>();
  for (const e of errors) {
    const k = unknownKey(e);
    if (k) rejections.set(k, (rejections.get(k) ?? 0) + 1);
  }
  const rejected = (e: ErrorObject) => rejections.get(unknownKey(e) ?? '') ?? 0;
  return [...errors].sort(
    (a, b) =>
      depth(b) - depth(a) ||
      (preference[a.keyword] ?? 2) - (preference[b.keyword] ?? 2) ||
      rejected(b) - rejected(a),
  )[0] as ErrorObject;
}

/** The keys a schema object declares at its own level. */
function declaredKeys(schema: unknown): string[] {
  const properties = (schema as { properties?: unknown } | undefined)?.properties;
  return properties && typeof properties === 'object' ? Object.keys(properties) : [];
}

/**
 * `did you mean 'port'?` for an unknown key close to one known at the same level. Under a union
 * (an MCP upstream is a command or a URL) every branch reports the key, each with its own keys.
 * Failing that, a required key missing at that level is the likely meaning when it is the only one.
 */
function suggestion(chosen: ErrorObject, errors: ErrorObject[]): string {
  if (chosen.keyword !== 'additionalProperties') return '';
  const key = param(chosen, 'additionalProperty');
  const here = errors.filter((e) => e.instancePath === chosen.instancePath);
  const known = here
    .filter((e) => e.keyword === 'additionalProperties' && param(e, 'additionalProperty') === key)
    .flatMap((e) => declaredKeys(e.parentSchema));
  const missing = [
    ...new Set(here.filter((e) => e.keyword === 'required').map((e) => param(e, 'missingProperty'))),
  ];
  const meant = closest(key, known) ?? (missing.length === 1 ? missing[0] : undefined);
  return meant ? ` (did you mean '${meant}'?)` : '';
}

/** Validates a parsed YAML file against a schema, failing with file:line:column and what to do. */
export function validateSource<S extends TSchema>(schema: S, source: YamlSource, fix: string): Static<S> {
  const check = ajv.compile(schema);
  const value = source.value ?? {};
  if (check(value)) return value as Static<S>;
  const errors = check.errors ?? [];
  const chosen = best(errors);
  const { path, problem } = describe(chosen, errors);
  throw new SourceError(source.where(path), problem + suggestion(chosen, errors), fix);
}
