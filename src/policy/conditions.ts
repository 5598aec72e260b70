import { compileHttp, compileShell, compileSql } from './classified.js';
import type { EvalContext, Tri } from './context.js';
import { asList, checkGlobs, type Globs, globFn } from './glob.js';
import type { MatchT } from './language.js';
import { paramCond } from './params.js';
import { PolicyError, type YamlPath } from './source.js';
import { timeCond } from './time.js';

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
