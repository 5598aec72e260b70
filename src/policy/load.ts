import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import picomatch from 'picomatch';
import type { ApprovalRequirement, PolicyDecision, RequestTimers } from '../core/request.js';
import { parseDuration } from '../util/duration.js';
import { validateSource } from '../util/validate.js';
import { parseYaml, SourceError } from '../util/yaml-source.js';
import { PolicyFile, type PolicyFileT, type RuleT } from './schema.js';
import type { Evaluation, Policy, PolicyInput } from './types.js';

export interface PolicySourceText {
  file: string;
  text: string;
}

interface CompiledRule {
  name: string;
  decision: PolicyDecision;
  matchType: (s: string) => boolean;
  matchResource: (s: string) => boolean;
  requirement: ApprovalRequirement | null;
  timers: RequestTimers;
  message: string | undefined;
  describe: string;
}

const defaultTimers: RequestTimers = { pendingTtlMs: 3_600_000, approvalValidityMs: 900_000 };
const rank: Record<PolicyDecision, number> = { deny: 3, require_approval: 2, allow: 1 };

function globMatcher(globs: string | string[] | undefined): (s: string) => boolean {
  if (globs === undefined) return () => true;
  // `.` is an ordinary character in action types; `/` separates resource segments for `*` vs `**`.
  return picomatch(Array.isArray(globs) ? globs : [globs], { dot: true, nobrace: false });
}

function timersOf(rule: Pick<RuleT, 'ttl' | 'validity'>, base: RequestTimers): RequestTimers {
  return {
    pendingTtlMs: rule.ttl ? (parseDuration(rule.ttl) as number) : base.pendingTtlMs,
    approvalValidityMs: rule.validity ? (parseDuration(rule.validity) as number) : base.approvalValidityMs,
  };
}

function compileFile(
  parsed: PolicyFileT,
  where: (path: Array<string | number>) => string,
): {
  rules: CompiledRule[];
  fallback: CompiledRule;
} {
  const base = timersOf(parsed.approval ?? {}, defaultTimers);
  const defaultApprovers = parsed.approval?.approvers;
  const requirementFor = (approvers: RuleT['approvers'], at: Array<string | number>): ApprovalRequirement => {
    const a = approvers ?? defaultApprovers;
    if (!a) {
      throw new SourceError(
        where(at),
        'require_approval needs approvers',
        'Add `approvers: {groups: [...], count: N}` to the rule or `approval.approvers` at the top level',
      );
    }
    return { anyOf: [{ groups: a.groups, count: a.count ?? 1 }], denyThreshold: 1 };
  };
  const seen = new Set<string>();
  const rules = parsed.rules.map((r, i): CompiledRule => {
    if (seen.has(r.name)) {
      throw new SourceError(
        where(['rules', i, 'name']),
        `rule name '${r.name}' is used twice`,
        'Give every rule a unique name',
      );
    }
    seen.add(r.name);
    return {
      name: r.name,
      decision: r.decision,
      matchType: globMatcher(r.match.type),
      matchResource: globMatcher(r.match.resource),
      requirement: r.decision === 'require_approval' ? requirementFor(r.approvers, ['rules', i]) : null,
      timers: timersOf(r, base),
      message: r.message,
      describe: r.description ?? r.name,
    };
  });
  const def = parsed.default?.decision ?? 'require_approval';
  const fallback: CompiledRule = {
    name: '(default)',
    decision: def,
    matchType: () => true,
    matchResource: () => true,
    requirement: def === 'require_approval' ? requirementFor(undefined, ['default']) : null,
    timers: base,
    message: def === 'deny' ? 'No policy rule allows this action.' : undefined,
    describe: 'no rule matched',
  };
  return { rules, fallback };
}

/** Compiles policy source texts into an immutable Policy. Throws SourceError with file:line:column. */
export function compilePolicy(sources: PolicySourceText[]): Policy {
  if (sources.length !== 1) {
    throw new SourceError(
      sources[1]?.file ?? '(policy)',
      'this version reads exactly one policy file',
      'Merge the rules into one file',
    );
  }
  const src = sources[0] as PolicySourceText;
  const yaml = parseYaml(src.text, src.file);
  const parsed = validateSource(PolicyFile, yaml, 'See docs/policy.md for the policy file reference');
  const { rules, fallback } = compileFile(parsed, yaml.where);
  const version = createHash('sha256')
    .update(JSON.stringify(sources.map((s) => [s.file, s.text])))
    .digest('hex');
  return {
    version,
    sources: sources.map((s) => s.file),
    evaluate: (input: PolicyInput): Evaluation => evaluate(rules, fallback, input),
  };
}

function evaluate(rules: CompiledRule[], fallback: CompiledRule, input: PolicyInput): Evaluation {
  let winner: CompiledRule | undefined;
  for (const r of rules) {
    if (winner && rank[r.decision] <= rank[winner.decision]) continue;
    if (r.matchType(input.action.type) && r.matchResource(input.action.resource)) winner = r;
  }
  const chosen = winner ?? fallback;
  const evaluation: Evaluation = {
    decision: chosen.decision,
    rule: winner ? chosen.name : null,
    reason: winner
      ? `matched rule '${chosen.name}' (${chosen.describe})`
      : `no rule matched; default is ${chosen.decision}`,
    requirement: chosen.requirement,
    timers: chosen.timers,
  };
  if (chosen.message !== undefined) evaluation.message = chosen.message;
  return evaluation;
}

/** Reads and compiles policy files from disk. */
export function loadPolicy(files: string[]): Policy {
  return compilePolicy(
    files.map((file) => {
      try {
        return { file, text: readFileSync(file, 'utf8') };
      } catch (e) {
        throw new SourceError(
          file,
          `cannot read policy file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
          'Check the path in policy.files',
        );
      }
    }),
  );
}
