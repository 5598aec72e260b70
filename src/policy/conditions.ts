import { isDeepStrictEqual } from 'node:util';
import type { Json } from '../core/action.js';
import { compileHttp, compileShell, compileSql } from './classified.js';
import type { EvalContext, Tri } from './context.js';
import { asList, checkGlobs, type Globs, globFn } from './glob.js';
import type { MatchT, ParamTestT } from './language.js';
import { PolicyError, type YamlPath } from './source.js';

/** A compiled condition: a test and the words explain uses to say what it required. */
export interface Cond {
  label: string;
  test(ctx: EvalContext): Tri;
}

export interface CompileEnv {
  where(path: YamlPath): string;
  /** Reusable matchers by name, compiled on first use. */
  matcher(name: string, at: YamlPath): Cond;
}

function globCond(
  label: string,
  globs: Globs,
  at: YamlPath,
  env: CompileEnv,
  get: (ctx: EvalContext) => string | null | undefined,
  nocase = false,
): Cond {
  const bad = checkGlobs(globs);
  if (bad)
    throw new PolicyError(env.where(at), `invalid glob ${bad}`, 'Fix the pattern; see docs/policy.md#globs');
  const fn = globFn(globs, { nocase });
  return {
    label: `${label} is ${asList(globs).join(' | ')}`,
    test: (ctx) => {
      const v = get(ctx);
      return v != null && fn(v);
    },
  };
}

/** Compiles a `match:` object into the conjunction of its fields, in a fixed order (cheap tests first). */
export function compileMatch(m: MatchT, at: YamlPath, env: CompileEnv): Cond[] {
  const conds: Cond[] = [];
  if (m.type !== undefined)
    conds.push(globCond('type', m.type, [...at, 'type'], env, (c) => c.input.action.type));
  if (m.resource !== undefined)
    conds.push(globCond('resource', m.resource, [...at, 'resource'], env, (c) => c.input.action.resource));
  if (m.actor) conds.push(...actorConds(m.actor, [...at, 'actor'], env));
  if (m.principal) conds.push(...principalConds(m.principal, [...at, 'principal'], env));
  if (m.params)
    for (const [path, t] of Object.entries(m.params))
      conds.push(paramCond(path, t, [...at, 'params', path], env));
  if (m.time) conds.push(timeCond(m.time, [...at, 'time'], env));
  for (const name of m.use === undefined ? [] : asList(m.use)) conds.push(env.matcher(name, [...at, 'use']));
  if (m.all)
    conds.push(
      group(
        'all',
        m.all.map((s, i) => compileMatch(s, [...at, 'all', i], env)),
      ),
    );
  if (m.any) conds.push(anyOf(m.any.map((s, i) => compileMatch(s, [...at, 'any', i], env))));
  if (m.not) conds.push(negate(compileMatch(m.not, [...at, 'not'], env)));
  if (m.shell) conds.push(compileShell(m.shell, [...at, 'shell'], env));
  if (m.sql) conds.push(compileSql(m.sql, [...at, 'sql'], env));
  if (m.http) conds.push(compileHttp(m.http, [...at, 'http'], env));
  return conds;
}

export function allOf(conds: Cond[], ctx: EvalContext): Tri {
  let unknown = false;
  for (const c of conds) {
    const r = c.test(ctx);
    if (r === false) return false;
    if (r === null) unknown = true;
  }
  return unknown ? null : true;
}

export function group(label: string, parts: Cond[][]): Cond {
  return {
    label: `${label}(${parts.map((p) => p.map((c) => c.label).join(' and ')).join('; ')})`,
    test: (ctx) => {
      let u = false;
      for (const p of parts) {
        const r = allOf(p, ctx);
        if (r === false) return false;
        if (r === null) u = true;
      }
      return u ? null : true;
    },
  };
}

function anyOf(parts: Cond[][]): Cond {
  return {
    label: `any(${parts.map((p) => p.map((c) => c.label).join(' and ') || 'anything').join(' | ')})`,
    test: (ctx) => {
      let u = false;
      for (const p of parts) {
        const r = allOf(p, ctx);
        if (r === true) return true;
        if (r === null) u = true;
      }
      return u ? null : false;
    },
  };
}

function negate(conds: Cond[]): Cond {
  return {
    label: `not(${conds.map((c) => c.label).join(' and ')})`,
    test: (ctx) => {
      const r = allOf(conds, ctx);
      return r === null ? null : !r;
    },
  };
}

function actorConds(a: NonNullable<MatchT['actor']>, at: YamlPath, env: CompileEnv): Cond[] {
  const out: Cond[] = [];
  if (a.id !== undefined) out.push(globCond('actor.id', a.id, [...at, 'id'], env, (c) => c.input.actor.id));
  if (a.name !== undefined)
    out.push(globCond('actor.name', a.name, [...at, 'name'], env, (c) => c.input.actor.name));
  if (a.via !== undefined)
    out.push(globCond('actor.via', a.via, [...at, 'via'], env, (c) => c.input.actor.via));
  for (const [k, g] of Object.entries(a.labels ?? {})) {
    out.push(globCond(`actor.labels.${k}`, g, [...at, 'labels', k], env, (c) => c.input.actor.labels?.[k]));
  }
  return out;
}

function principalConds(p: NonNullable<MatchT['principal']>, at: YamlPath, env: CompileEnv): Cond[] {
  const out: Cond[] = [];
  if (p.present !== undefined) {
    const want = p.present;
    out.push({
      label: `principal is ${want ? 'present' : 'absent'}`,
      test: (c) => (c.input.actor.principal != null) === want,
    });
  }
  if (p.id !== undefined)
    out.push(globCond('principal', p.id, [...at, 'id'], env, (c) => c.input.actor.principal, true));
  if (p.groups !== undefined) {
    const bad = checkGlobs(p.groups);
    if (bad) throw new PolicyError(env.where([...at, 'groups']), `invalid glob ${bad}`, 'Fix the pattern');
    const fn = globFn(p.groups);
    out.push({
      label: `principal group is ${asList(p.groups).join(' | ')}`,
      test: (c) => (c.input.principalGroups ?? []).some(fn),
    });
  }
  return out;
}

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

function paramCond(
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

const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function timeCond(t: NonNullable<MatchT['time']>, at: YamlPath, env: CompileEnv): Cond {
  const tz = t.tz ?? 'UTC';
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    throw new PolicyError(
      env.where([...at, 'tz']),
      `unknown time zone '${tz}'`,
      'Use an IANA name such as UTC or Europe/Berlin',
    );
  }
  const days = t.days ? new Set<string>(t.days) : null;
  const [from, to] = (t.hours ?? '00:00-24:00')
    .split('-')
    .map((h) => Number(h.slice(0, 2)) * 60 + Number(h.slice(3, 5))) as [number, number];
  if (from > 24 * 60 || to > 24 * 60)
    throw new PolicyError(
      env.where([...at, 'hours']),
      `hours '${t.hours}' is not a time of day`,
      'Write HH:MM-HH:MM with hours 00-24',
    );
  return {
    label: `time is ${t.days?.join(',') ?? 'any day'} ${t.hours ?? ''} ${tz}`.trim(),
    test: (c) => {
      const parts = fmt.formatToParts(new Date(c.input.now));
      const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
      const day = get('weekday').slice(0, 3).toLowerCase();
      const minute = Number(get('hour')) * 60 + Number(get('minute'));
      if (days && !days.has(day)) return false;
      return from <= to ? minute >= from && minute < to : minute >= from || minute < to;
    },
  };
}

export { dayNames };
