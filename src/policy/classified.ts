import { posix } from 'node:path';
import type { ShellInvocation } from './classifiers/shell.js';
import type { CompileEnv, Cond } from './conditions.js';
import type { EvalContext, Tri } from './context.js';
import { asList, checkGlobs, type Globs, globFn } from './glob.js';
import type { MatchT } from './language.js';
import { PolicyError, type YamlPath } from './source.js';

const DYNAMIC_PREFIX = '\u0000';

function fnOf(globs: Globs, at: YamlPath, env: CompileEnv, nocase = false): (s: string) => boolean {
  const bad = checkGlobs(globs);
  if (bad)
    throw new PolicyError(env.where(at), `invalid glob ${bad}`, 'Fix the pattern; see docs/policy.md#globs');
  return globFn(globs, { nocase });
}

/** A test on one invocation; "cannot tell" when it depends on an argument only known at run time. */
type InvTest = (inv: ShellInvocation) => Tri;

/** Wraps a test on the arguments: a failure on a dynamic invocation is "cannot tell", not "no". */
function onArgs(f: (inv: ShellInvocation) => boolean): InvTest {
  return (inv) => (f(inv) ? true : inv.dynamic ? null : false);
}

/** Non-option words; everything after `--` counts as an operand. */
function operands(args: string[]): string[] {
  const out: string[] = [];
  let opts = true;
  for (const a of args) {
    if (opts && a === '--') opts = false;
    else if (!opts || !a.startsWith('-') || a === '-') out.push(a);
  }
  return out;
}

/** `-rf` → r, f; `--recursive` / `--recursive=x` → recursive. */
function flagsOf(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (a === '--') break;
    if (a.startsWith('--')) out.push(a.slice(2).split('=')[0] as string);
    else if (a.startsWith('-') && a.length > 1) out.push(...a.slice(1));
  }
  return out;
}

function optionValues(args: string[], name: string): string[] {
  const long = `--${name}`;
  const short = name.length === 1 ? `-${name}` : null;
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') break;
    if (a.startsWith(`${long}=`)) out.push(a.slice(long.length + 1));
    else if ((a === long || a === short) && args[i + 1] !== undefined) out.push(args[i + 1] as string);
    else if (short && a.startsWith(short) && !a.startsWith('--') && a.length > 2) out.push(a.slice(2));
  }
  return out;
}

/** Ordered subsequence: each glob matches a later operand than the one before it. */
function inOrder(tests: Array<(s: string) => boolean>, words: string[]): boolean {
  let i = 0;
  for (const t of tests) {
    while (i < words.length && !t(words[i] as string)) i++;
    if (i === words.length) return false;
    i++;
  }
  return true;
}

function normalisePathArg(a: string): string {
  return a.includes('/') ? posix.normalize(a) : a;
}

function commandTests(spec: Globs, at: YamlPath, env: CompileEnv): InvTest {
  const alternatives = asList(spec).map((c) => {
    const [prog, ...rest] = c.trim().split(/\s+/);
    const p = fnOf(prog as string, at, env);
    const words = rest.map((w) => fnOf(w, at, env));
    const args = onArgs((inv) => inOrder(words, operands(inv.args)));
    return (inv: ShellInvocation): Tri => (p(inv.program) ? args(inv) : false);
  });
  return (inv) => {
    let unknown = false;
    for (const alt of alternatives) {
      const r = alt(inv);
      if (r === true) return true;
      if (r === null) unknown = true;
    }
    return unknown ? null : false;
  };
}

function shellTests(s: NonNullable<MatchT['shell']>, at: YamlPath, env: CompileEnv): InvTest[] {
  const tests: InvTest[] = [];
  if (s.program !== undefined) {
    const f = fnOf(s.program, [...at, 'program'], env);
    tests.push((inv) => f(inv.program));
  }
  if (s.command !== undefined) tests.push(commandTests(s.command, [...at, 'command'], env));
  if (s.args !== undefined) {
    const words = s.args.map((w, i) => fnOf(w, [...at, 'args', i], env));
    tests.push(onArgs((inv) => inOrder(words, operands(inv.args))));
  }
  if (s.flags !== undefined) {
    const f = fnOf(s.flags, [...at, 'flags'], env);
    tests.push(onArgs((inv) => flagsOf(inv.args).some(f)));
  }
  for (const [name, g] of Object.entries(s.options ?? {})) {
    const f = fnOf(g, [...at, 'options', name], env);
    tests.push(onArgs((inv) => optionValues(inv.args, name).some(f)));
  }
  if (s.any_arg !== undefined) {
    const f = fnOf(s.any_arg, [...at, 'any_arg'], env);
    tests.push(
      onArgs((inv) =>
        operands(inv.args).some((a) => !a.startsWith(DYNAMIC_PREFIX) && f(normalisePathArg(a))),
      ),
    );
  }
  return tests;
}

function invocationResult(inv: ShellInvocation, tests: InvTest[], unparseable: boolean | undefined): Tri {
  if (inv.program === '') return unparseable ?? null;
  if (unparseable === true) return inv.dynamic;
  let unknown = false;
  for (const t of tests) {
    const r = t(inv);
    if (r === false) return false;
    if (r === null) unknown = true;
  }
  return unknown ? null : true;
}

export function compileShell(s: NonNullable<MatchT['shell']>, at: YamlPath, env: CompileEnv): Cond {
  const t = shellTests(s, at, env);
  return {
    label: `shell ${JSON.stringify(s)}`,
    test: (ctx: EvalContext): Tri => {
      const facts = ctx.shell();
      if (!facts) return false;
      if (!facts.parsed) return s.unparseable ?? null;
      let unknown = false;
      for (const inv of facts.invocations) {
        const r = invocationResult(inv, t, s.unparseable);
        if (r === true) return true;
        if (r === null) unknown = true;
      }
      return unknown ? null : false;
    },
  };
}

export function compileSql(s: NonNullable<MatchT['sql']>, at: YamlPath, env: CompileEnv): Cond {
  const tests: Array<(f: NonNullable<ReturnType<EvalContext['sql']>>) => boolean> = [];
  const listTest = (
    key: 'kind' | 'family' | 'tables' | 'functions',
    field: 'kinds' | 'families' | 'tables' | 'functions',
  ) => {
    const g = s[key];
    if (g === undefined) return;
    const f = fnOf(g, [...at, key], env, true);
    tests.push((facts) => facts[field].some(f));
  };
  listTest('kind', 'kinds');
  listTest('family', 'families');
  listTest('tables', 'tables');
  listTest('functions', 'functions');
  if (s.unbounded_write !== undefined) tests.push((f) => f.unboundedWrite === s.unbounded_write);
  if (s.multi_statement !== undefined) tests.push((f) => f.statements > 1 === s.multi_statement);
  return {
    label: `sql ${JSON.stringify(s)}`,
    test: (ctx) => {
      const facts = ctx.sql();
      if (!facts) return false;
      if (!facts.parsed) return s.unparseable ?? null;
      if (s.unparseable === true && !facts.opaque) return false;
      const ok = tests.every((f) => f(facts));
      // Opaque code (DO blocks, EXECUTE) may do what the rule looks for; that is "cannot tell", not "no".
      return ok ? true : facts.opaque && s.unparseable !== false ? null : false;
    },
  };
}

export function compileHttp(h: NonNullable<MatchT['http']>, at: YamlPath, env: CompileEnv): Cond {
  const tests: Array<(f: NonNullable<ReturnType<EvalContext['http']>>) => boolean> = [];
  if (h.method !== undefined) {
    const f = fnOf(h.method, [...at, 'method'], env, true);
    tests.push((x) => f(x.method));
  }
  if (h.host !== undefined) {
    const f = fnOf(h.host, [...at, 'host'], env, true);
    tests.push((x) => f(x.host));
  }
  if (h.path !== undefined) {
    const f = fnOf(
      asList(h.path).map((p) => p.replace(/\{[^}/]+\}/g, '*')),
      [...at, 'path'],
      env,
    );
    tests.push((x) => f(x.path));
  }
  for (const [k, g] of Object.entries(h.query ?? {})) {
    const f = fnOf(g, [...at, 'query', k], env);
    tests.push((x) => (x.query[k] ?? []).some(f));
  }
  return {
    label: `http ${JSON.stringify(h)}`,
    test: (ctx) => {
      const facts = ctx.http();
      if (!facts) return false;
      if (!facts.parsed) return h.unparseable ?? null;
      if (h.unparseable === true) return false;
      return tests.every((f) => f(facts));
    },
  };
}
