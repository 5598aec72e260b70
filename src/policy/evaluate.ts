import type { CompiledPolicy, CompiledRule } from './compile.js';
import { allOf } from './conditions.js';
import { EvalContext, type Tri } from './context.js';
import { RuleIndex } from './ruleindex.js';
import type { Evaluation, Explanation, Policy, PolicyInput, RuleVerdict } from './types.js';

function takes(r: Tri, rule: CompiledRule): boolean {
  return r === true || (r === null && rule.decision !== 'allow');
}

function toEvaluation(rule: CompiledRule, matched: Tri | undefined, ctx: EvalContext): Evaluation {
  const isDefault = matched === undefined;
  const reason = isDefault
    ? `no rule matched; the default is ${rule.decision}`
    : matched === null
      ? `rule '${rule.name}' (${rule.description}) applies because part of the action could not be understood, which is treated as the most sensitive case`
      : `matched rule '${rule.name}' (${rule.description})`;
  const e: Evaluation = {
    decision: rule.decision,
    rule: isDefault ? null : rule.name,
    reason,
    requirement: rule.requirement,
    timers: rule.timers,
  };
  if (rule.message !== undefined) e.message = rule.message;
  if (rule.channels !== undefined) e.channels = rule.channels;
  const facts = ctx.facts();
  if (facts !== undefined) e.facts = facts;
  return e;
}

/** The default would allow, but the input could not be understood: fail closed instead of allowing blind. */
function unparseableDenial(ctx: EvalContext, fallback: CompiledRule): Evaluation {
  const e: Evaluation = {
    decision: 'deny',
    rule: null,
    reason:
      'no rule matched and part of the action could not be parsed; the default allow does not apply to what cannot be understood',
    requirement: null,
    timers: fallback.timers,
    message:
      'This action could not be parsed, so it was denied. Rewrite it in plain syntax; do not retry it unchanged.',
  };
  const facts = ctx.facts();
  if (facts !== undefined) e.facts = facts;
  return e;
}

function decide(
  p: CompiledPolicy,
  index: RuleIndex,
  ctx: EvalContext,
): { rule: CompiledRule; matched: Tri | undefined } | Evaluation {
  const resource = ctx.input.action.resource;
  for (const rule of index.candidates(ctx.input.action.type)) {
    if (rule.resourceHeads !== null && !rule.resourceHeads.some((h) => resource.startsWith(h))) continue;
    if (rule.programs !== null && ctx.runsNoneOf(rule.programs)) continue;
    const r = allOf(rule.conds, ctx);
    if (takes(r, rule)) return { rule, matched: r };
  }
  if (p.fallback.decision === 'allow') {
    ctx.classifyAll();
    if (ctx.unparseable()) return unparseableDenial(ctx, p.fallback);
  }
  return { rule: p.fallback, matched: undefined };
}

function evaluateWith(p: CompiledPolicy, index: RuleIndex, input: PolicyInput): Evaluation {
  const ctx = new EvalContext(input);
  const d = decide(p, index, ctx);
  return 'decision' in d ? d : toEvaluation(d.rule, d.matched, ctx);
}

function firstFailure(
  rule: CompiledRule,
  ctx: EvalContext,
): { outcome: RuleVerdict['outcome']; failed?: string } {
  let unknown: string | undefined;
  for (const c of rule.conds) {
    const r = c.test(ctx);
    if (r === false) return { outcome: 'not_matched', failed: c.label };
    if (r === null && unknown === undefined) unknown = c.label;
  }
  return unknown === undefined
    ? { outcome: 'matched' }
    : { outcome: 'unknown', failed: `cannot tell: ${unknown}` };
}

function explainWith(p: CompiledPolicy, index: RuleIndex, input: PolicyInput): Explanation {
  const evaluation = evaluateWith(p, index, input);
  const ctx = new EvalContext(input);
  const rules = p.rules.map((rule): RuleVerdict => {
    const v = firstFailure(rule, ctx);
    const verdict: RuleVerdict = {
      rule: rule.name,
      decision: rule.decision,
      location: rule.location,
      outcome: v.outcome,
      chosen: evaluation.rule === rule.name,
    };
    if (v.failed !== undefined) verdict.failed = v.failed;
    return verdict;
  });
  return { evaluation, policyVersion: p.version, rules };
}

/** Wraps compiled rules as the Policy the rest of the system uses. Evaluation is pure and never throws for valid input. */
export function toPolicy(
  p: CompiledPolicy,
): Policy & { explain(input: PolicyInput): Explanation; compiled: CompiledPolicy } {
  const index = new RuleIndex(p.rules);
  return {
    version: p.version,
    sources: p.sources,
    compiled: p,
    evaluate: (input) => evaluateWith(p, index, input),
    explain: (input) => explainWith(p, index, input),
  };
}
