import { isDeepStrictEqual } from 'node:util';
import type { Json } from '../core/action.js';
import type { CompileEnv, Cond } from './conditions.js';
import { checkGlobs, globFn } from './glob.js';
import type { ParamTestT } from './language.js';
import { PolicyError, type YamlPath } from './source.js';

/** `spec.containers.0.image` → the value at that path in params, or undefined. */
function lookup(params: Json, path: string[]): Json | undefined {
  let v: Json | undefined = params;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = Array.isArray(v) ? v[Number(seg)] : v[seg];
    if (v === undefined) return undefined;
  }
  return v;
}

export function paramCond(
  path: string,
  t: ParamTestT | string | number | boolean | null,
  at: YamlPath,
  env: CompileEnv,
): Cond {
  const segs = path.split('.');
  const test: ParamTestT = t !== null && typeof t === 'object' ? t : { equals: t };
  const checks: Array<(v: Json | undefined) => boolean> = [];
  if (test.exists !== undefined) {
    const want = test.exists;
    checks.push((v) => (v !== undefined) === want);
  }
  if ('equals' in test) checks.push((v) => v !== undefined && isDeepStrictEqual(v, test.equals));
  if (test.in) {
    const options = test.in;
    checks.push((v) => v !== undefined && options.some((o) => isDeepStrictEqual(v, o)));
  }
  if (test.glob !== undefined) {
    const bad = checkGlobs(test.glob);
    if (bad) throw new PolicyError(env.where([...at, 'glob']), `invalid glob ${bad}`, 'Fix the pattern');
    const fn = globFn(test.glob);
    checks.push((v) => (typeof v === 'string' || typeof v === 'number') && fn(String(v)));
  }
  if (test.regex !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(test.regex, 'u');
    } catch (e) {
      throw new PolicyError(
        env.where([...at, 'regex']),
        `invalid regular expression: ${(e as Error).message}`,
        'Fix the expression (JavaScript syntax, `u` flag)',
      );
    }
    checks.push((v) => typeof v === 'string' && re.test(v));
  }
  for (const [op, cmp] of numeric) {
    const bound = test[op];
    if (bound !== undefined)
      checks.push((v) => {
        const n = toNumber(v);
        return n !== null && cmp(n, bound);
      });
  }
  if (checks.length === 0)
    throw new PolicyError(
      env.where(at),
      `params.${path} has no test`,
      'Give a value, or one of equals, in, glob, regex, gt, gte, lt, lte, exists',
    );
  return {
    label: `params.${path} ${JSON.stringify(t)}`,
    test: (c) => {
      const v = lookup(c.input.action.params, segs);
      return checks.every((f) => f(v));
    },
  };
}

const numeric: Array<['gt' | 'gte' | 'lt' | 'lte', (a: number, b: number) => boolean]> = [
  ['gt', (a, b) => a > b],
  ['gte', (a, b) => a >= b],
  ['lt', (a, b) => a < b],
  ['lte', (a, b) => a <= b],
];

function toNumber(v: Json | undefined): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return null;
}
