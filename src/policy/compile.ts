import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Json } from '../core/action.js';
import type { Actor } from '../core/identity.js';
import type { ApprovalRequirement, PolicyDecision, RequestTimers } from '../core/request.js';
import { type ApprovalFields, requirementOf, timersOf } from './approvers.js';
import { allOf, type CompileEnv, type Cond, compileMatch } from './conditions.js';
import { EvalContext } from './context.js';
import { asList, literalPrefix } from './glob.js';
import { type ExampleActionT, type MatchT, PolicyFile, type PolicyFileT, type RuleT } from './language.js';
import { PolicyError, parseYamlFile, validateYaml, type YamlFile, type YamlPath } from './source.js';
import type { PolicyInput } from './types.js';

export interface PolicySourceText {
  file: string;
  text: string;
}

export const rank: Record<PolicyDecision, number> = { deny: 3, require_approval: 2, allow: 1 };

export interface CompiledRule {
  name: string;
  /** Position across all files; among rules of equal rank the earlier one wins. */
  order: number;
  decision: PolicyDecision;
  rank: number;
  description: string;
  conds: Cond[];
  /** The top-level `match.type` globs, which the index uses; null means the rule may match any type. */
  typeGlobs: string[] | null;
  /**
   * Programs one of which a shell command must run for this rule to match (from a top-level
   * `shell:` with literal program names), or null. Lets evaluation skip the rule without testing it.
   */
  programs: ReadonlySet<string> | null;
  /**
   * Literal heads of the top-level `match.resource` globs (a superset test: a resource that starts
   * with none of them cannot match), or null when some glob has no literal head.
   */
  resourceHeads: string[] | null;
  requirement: ApprovalRequirement | null;
  timers: RequestTimers;
  message: string | undefined;
  channels: string[] | undefined;
  /** `file:line:column` of the rule. */
  location: string;
}

export interface CompiledPolicy {
  version: string;
  sources: string[];
  rules: CompiledRule[];
  fallback: CompiledRule;
}

interface Located<T> {
  value: T;
  file: YamlFile;
  path: YamlPath;
}

/** The parts of several files, merged: names must be unique across files; `default` and `approval` may appear once. */
interface Merged {
  default?: Located<NonNullable<PolicyFileT['default']>>;
  approval?: Located<ApprovalFields>;
  groups: Record<string, string[]>;
  matchers: Map<string, Located<MatchT>>;
  rules: Array<Located<RuleT>>;
}

const fixRef = 'See docs/policy.md for the policy file reference';

function once<T>(prev: Located<T> | undefined, next: Located<T>, key: string): Located<T> {
  if (prev)
    throw new PolicyError(
      next.file.where(next.path),
      `'${key}' is already set in ${prev.file.where(prev.path)}`,
      `Keep '${key}' in one policy file only`,
    );
  return next;
}

function merge(files: YamlFile[]): Merged {
  const m: Merged = { groups: {}, matchers: new Map(), rules: [] };
  const groupAt = new Map<string, string>();
  for (const file of files) {
    const doc = validateYaml<PolicyFileT>(PolicyFile, file, fixRef);
    if (doc.default) m.default = once(m.default, { value: doc.default, file, path: ['default'] }, 'default');
    if (doc.approval)
      m.approval = once(m.approval, { value: doc.approval, file, path: ['approval'] }, 'approval');
    for (const [name, list] of Object.entries(doc.groups ?? {})) {
      const here = file.where(['groups', name]);
      if (groupAt.has(name))
        throw new PolicyError(
          here,
          `group '${name}' is already defined at ${groupAt.get(name)}`,
          'Give each approver group one definition',
        );
      groupAt.set(name, here);
      m.groups[name] = list;
    }
    for (const [name, value] of Object.entries(doc.matchers ?? {})) {
      const prev = m.matchers.get(name);
      if (prev)
        throw new PolicyError(
          file.where(['matchers', name]),
          `matcher '${name}' is already defined at ${prev.file.where(prev.path)}`,
          'Rename one of them',
        );
      m.matchers.set(name, { value, file, path: ['matchers', name] });
    }
    (doc.rules ?? []).forEach((value, i) => {
      m.rules.push({ value, file, path: ['rules', i] });
    });
  }
  return m;
}

/** Compiles reusable matchers on first use, refusing unknown names and cycles. */
function matcherEnv(m: Merged, file: YamlFile): CompileEnv {
  const done = new Map<string, Cond>();
  const active = new Set<string>();
  const env = (f: YamlFile): CompileEnv => ({
    where: f.where,
    matcher(name, at) {
      const hit = done.get(name);
      if (hit) return hit;
      const def = m.matchers.get(name);
      if (!def) {
        const known = [...m.matchers.keys()].join(', ') || 'none defined';
        throw new PolicyError(
          f.where(at),
          `unknown matcher '${name}'`,
          `Define it under top-level 'matchers:' (known: ${known})`,
        );
      }
      if (active.has(name))
        throw new PolicyError(
          f.where(at),
          `matcher '${name}' uses itself`,
          'Break the cycle between matchers',
        );
      active.add(name);
      const conds = compileMatch(def.value, def.path, env(def.file));
      active.delete(name);
      const cond: Cond = { label: `use ${name}`, test: (ctx) => allOf(conds, ctx) };
      done.set(name, cond);
      return cond;
    },
  });
  return env(file);
}

function compileRule(r: Located<RuleT>, order: number, m: Merged): CompiledRule {
  const rule = r.value;
  const where = r.file.where;
  const defaults = m.approval?.value ?? {};
  const env = matcherEnv(m, r.file);
  const conds = rule.match ? compileMatch(rule.match, [...r.path, 'match'], env) : [];
  if (
    rule.decision !== 'require_approval' &&
    (rule.approvers !== undefined || rule.step_up !== undefined || rule.deny_threshold !== undefined)
  ) {
    throw new PolicyError(
      where([...r.path, 'approvers']),
      `rule '${rule.name}' is ${rule.decision} but names approvers`,
      'Remove approvers/step_up/deny_threshold, or make the decision require_approval',
    );
  }
  return {
    name: rule.name,
    order,
    decision: rule.decision,
    rank: rank[rule.decision],
    description: rule.description ?? rule.name,
    conds,
    typeGlobs: rule.match?.type !== undefined ? asList(rule.match.type) : null,
    programs: requiredPrograms(rule.match?.shell),
    resourceHeads: resourceHeads(rule.match?.resource),
    requirement:
      rule.decision === 'require_approval' ? requirementOf(rule, defaults, m.groups, where, r.path) : null,
    timers: timersOf(rule, defaults),
    message:
      rule.decision === 'deny'
        ? (rule.message ??
          `Denied by policy rule '${rule.name}'. Do not retry this action; ask a human to change the policy if it is needed.`)
        : rule.message,
    channels: rule.channels ?? defaults.channels,
    location: where(r.path),
  };
}

const literal = /^[^*?[\]{}()!+@\\]+$/;

/** The literal program names a top-level `shell:` requires, when every alternative names one. */
function requiredPrograms(shell: MatchT['shell']): ReadonlySet<string> | null {
  if (!shell || shell.unparseable !== undefined) return null;
  const names =
    shell.program !== undefined
      ? asList(shell.program)
      : shell.command !== undefined
        ? asList(shell.command).map((c) => c.trim().split(/\s+/)[0] ?? '')
        : null;
  return names && names.length > 0 && names.every((n) => literal.test(n)) ? new Set(names) : null;
}

function resourceHeads(globs: string | string[] | undefined): string[] | null {
  if (globs === undefined) return null;
  const heads = asList(globs).map(literalPrefix);
  if (heads.some((h) => h === null)) return null;
  // `prod/**` also matches `prod` itself, so the head stops before a trailing slash.
  return heads.map((h) => (h?.exact ? h.prefix : (h?.prefix ?? '').replace(/\/$/, '')));
}

function compileFallback(m: Merged, first: YamlFile): CompiledRule {
  const d = m.default?.value;
  const decision = d?.decision ?? 'require_approval';
  const defaults = m.approval?.value ?? {};
  const where = m.default?.file.where ?? m.approval?.file.where ?? first.where;
  return {
    name: '(default)',
    order: Number.MAX_SAFE_INTEGER,
    decision,
    rank: rank[decision],
    description: 'no rule matched',
    conds: [],
    typeGlobs: null,
    programs: null,
    resourceHeads: null,
    requirement:
      decision === 'require_approval' ? requirementOf({}, defaults, m.groups, where, ['default']) : null,
    timers: timersOf({}, defaults),
    message:
      decision === 'deny'
        ? (d?.message ??
          'No policy rule allows this action. Do not retry; ask a human to add a rule if it is needed.')
        : d?.message,
    channels: defaults.channels,
    location: m.default ? where(['default']) : '(built-in default)',
  };
}

/** Whether the rule takes the action: a definite match, or "cannot tell" for a rule that does not allow. */
export function ruleTakes(rule: CompiledRule, ctx: EvalContext): boolean {
  const r = allOf(rule.conds, ctx);
  return r === true || (r === null && rule.decision !== 'allow');
}

const exampleActor: Actor = { id: 'example-agent', name: 'example-agent', principal: null, via: 'api_key' };
/** Examples without `at` are checked at a fixed, ordinary moment: a Wednesday at noon UTC. */
const exampleNow = Date.UTC(2026, 0, 7, 12, 0, 0);

export function exampleInput(e: ExampleActionT): PolicyInput {
  const actor = { ...exampleActor, ...(e.actor as Partial<Actor> | undefined) };
  return {
    action: {
      type: e.type,
      resource: e.resource ?? '',
      params: (e.params ?? {}) as Record<string, Json>,
      justification: '',
    },
    actor,
    now: e.at !== undefined ? Date.parse(e.at) : exampleNow,
  };
}

function checkExamples(rule: CompiledRule, r: Located<RuleT>): void {
  const ex = r.value.examples;
  if (!ex) return;
  for (const [key, want] of [
    ['match', true],
    ['not_match', false],
  ] as const) {
    (ex[key] ?? []).forEach((e, i) => {
      const at = [...r.path, 'examples', key, i];
      if (e.at !== undefined && Number.isNaN(Date.parse(e.at)))
        throw new PolicyError(
          r.file.where([...at, 'at']),
          `'${e.at}' is not an ISO 8601 time`,
          'Write it like 2026-01-07T12:00:00Z',
        );
      if (ruleTakes(rule, new EvalContext(exampleInput(e))) !== want) {
        const said = want ? 'should match but does not' : 'should not match but does';
        throw new PolicyError(
          r.file.where(at),
          `example ${key}[${i}] of rule '${rule.name}' ${said}`,
          'Fix the rule (or the example) so they agree; run `countersign policy explain` on the example to see which condition differs',
        );
      }
    });
  }
}

/** Compiles policy texts into rules. Throws PolicyError with file:line:column. */
export function compileSources(sources: PolicySourceText[]): CompiledPolicy {
  if (sources.length === 0)
    throw new PolicyError('(policy)', 'no policy files given', 'Name at least one policy file');
  const files = sources.map((s) => parseYamlFile(s.text, s.file));
  const m = merge(files);
  const seen = new Map<string, string>();
  const rules = m.rules.map((r, i) => {
    const here = r.file.where([...r.path, 'name']);
    const prev = seen.get(r.value.name);
    if (prev)
      throw new PolicyError(
        here,
        `rule name '${r.value.name}' is used twice (first at ${prev})`,
        'Give every rule a unique name; requests record it',
      );
    seen.set(r.value.name, here);
    const rule = compileRule(r, i, m);
    checkExamples(rule, r);
    return rule;
  });
  for (const [name, def] of m.matchers) matcherEnv(m, def.file).matcher(name, def.path);
  // Names without their folders: the CLI and the gateway spell paths differently (relative,
  // absolute, another working directory), and the same files must give the same version.
  const version = createHash('sha256')
    .update(JSON.stringify(sources.map((s) => [basename(s.file), s.text])))
    .digest('hex');
  return {
    version,
    sources: sources.map((s) => s.file),
    rules,
    fallback: compileFallback(m, files[0] as YamlFile),
  };
}
