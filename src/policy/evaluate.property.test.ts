import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PolicyDecision } from '../core/request.js';
import { compilePolicyTexts } from './engine.js';
import { toPolicy } from './evaluate.js';
import type { PolicyInput } from './types.js';

const types = ['db.read', 'db.write', 'aws.iam.attach', 'aws.iam.delete', 'deploy.web', 'exec.command'];
const resources = ['prod/a', 'prod/b/c', 'dev/a', 'staging/x', 'prod', 'dev', 'production/a', 'staging/xy'];
const decisions: PolicyDecision[] = ['allow', 'deny', 'require_approval'];

interface RuleSpec {
  type: string;
  resource: string;
  decision: PolicyDecision;
}

const typeGlob = fc.constantFrom('db.*', 'aws.iam.*', 'deploy.web', '*', 'exec.command', '*.read');
const resourceGlob = fc.constantFrom('prod/**', 'dev/*', '**', 'staging/x', 'prod/a');
const ruleSpec = fc.record({
  type: typeGlob,
  resource: resourceGlob,
  decision: fc.constantFrom(...decisions),
});
const inputArb = fc.record({ type: fc.constantFrom(...types), resource: fc.constantFrom(...resources) });

function policyText(rules: RuleSpec[], def: PolicyDecision): string {
  const body = rules
    .map(
      (r, i) =>
        `  - { name: r${i}, decision: ${r.decision}, match: { type: "${r.type}", resource: "${r.resource}" } }`,
    )
    .join('\n');
  return `default: { decision: ${def} }\napproval: { approvers: 1 of sre }\nrules:\n${body || '  []'}\n`.replace(
    'rules:\n  []',
    'rules: []',
  );
}

function inputOf(x: { type: string; resource: string }): PolicyInput {
  return {
    action: { type: x.type, resource: x.resource, params: {}, justification: '' },
    actor: { id: 'a', name: 'a', principal: null, via: 'api_key' },
    now: 0,
  };
}

/** The reference semantics, written as plainly as possible: strongest decision among matching rules. */
function reference(
  rules: RuleSpec[],
  def: PolicyDecision,
  x: { type: string; resource: string },
  matches: (g: string, s: string) => boolean,
): PolicyDecision {
  const hit = rules
    .filter((r) => matches(r.type, x.type) && matches(r.resource, x.resource))
    .map((r) => r.decision);
  for (const d of ['deny', 'require_approval', 'allow'] as const) if (hit.includes(d)) return d;
  return def;
}

/** Glob semantics written plainly: `*` stays in a segment, `**` crosses them, `x/**` also matches `x`. */
function simpleGlob(g: string, s: string): boolean {
  const body = g
    .replace(/[.]/g, '\\.')
    .replace(/\/\*\*/g, '@S@')
    .replace(/\*\*/g, '@@')
    .replace(/\*/g, '[^/]*')
    .replace(/@S@/g, '(?:/.*)?')
    .replace(/@@/g, '.*');
  return new RegExp(`^${body}$`).test(s);
}

describe('evaluation properties', () => {
  it('is deterministic and agrees with the reference semantics', () => {
    fc.assert(
      fc.property(
        fc.array(ruleSpec, { maxLength: 12 }),
        fc.constantFrom(...decisions),
        inputArb,
        (rules, def, x) => {
          const p = compilePolicyTexts([{ file: 'p.yaml', text: policyText(rules, def) }]);
          const a = p.evaluate(inputOf(x));
          const b = compilePolicyTexts([{ file: 'p.yaml', text: policyText(rules, def) }]).evaluate(
            inputOf(x),
          );
          expect(a).toEqual(b);
          expect(a.decision).toBe(reference(rules, def, x, simpleGlob));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives deny precedence whatever the rule order', () => {
    fc.assert(
      fc.property(
        fc.array(ruleSpec, { minLength: 1, maxLength: 10 }),
        inputArb,
        fc.integer(),
        (rules, x, seed) => {
          const shuffled = [...rules].sort(
            (l, r) => ((rules.indexOf(l) * 7919 + seed) % 13) - ((rules.indexOf(r) * 7919 + seed) % 13),
          );
          const withDeny = [...shuffled, { type: x.type, resource: x.resource, decision: 'deny' as const }];
          const p = compilePolicyTexts([{ file: 'p.yaml', text: policyText(withDeny, 'allow') }]);
          expect(p.evaluate(inputOf(x)).decision).toBe('deny');
          const q = compilePolicyTexts([
            { file: 'p.yaml', text: policyText([...withDeny].reverse(), 'allow') },
          ]);
          expect(q.evaluate(inputOf(x)).decision).toBe('deny');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('applies the default when nothing matches', () => {
    fc.assert(
      fc.property(fc.array(ruleSpec, { maxLength: 10 }), fc.constantFrom(...decisions), (rules, def) => {
        const p = compilePolicyTexts([{ file: 'p.yaml', text: policyText(rules, def) }]);
        // A `/` in the type keeps every type glob above (even `*`) from matching.
        const e = p.evaluate(inputOf({ type: 'no/such.type', resource: 'nowhere/x' }));
        expect(e.decision).toBe(def);
        expect(e.rule).toBeNull();
      }),
      { numRuns: 200 },
    );
  });
});

describe('program prefilter', () => {
  const text = `
default: { decision: allow }
approval: { approvers: 1 of sre }
rules:
  - { name: k-del, decision: deny, match: { type: exec.command, shell: { command: "kubectl delete" } } }
  - { name: rm-r, decision: require_approval, match: { type: exec.command, shell: { program: rm, flags: [r, R] } } }
  - { name: tf, decision: require_approval, match: { type: exec.command, shell: { command: [terraform apply, tofu apply] } } }
  - { name: ls, decision: allow, match: { type: exec.command, shell: { program: ls } } }
`;
  const word = fc.constantFrom(
    'kubectl',
    'delete',
    'rm',
    '-rf',
    'ls',
    'terraform',
    'apply',
    'tofu',
    'sudo',
    'env',
    'X=1',
    '$CMD',
    '"a b"',
    '|',
    '&&',
    ';',
    '$(',
    ')',
    "'",
    'bash',
    '-c',
  );

  it('never changes a decision', () => {
    const fast = compilePolicyTexts([{ file: 'p.yaml', text }]);
    const slow = toPolicy({
      ...fast.compiled,
      rules: fast.compiled.rules.map((r) => ({ ...r, programs: null })),
    });
    expect(fast.compiled.rules.filter((r) => r.programs !== null)).toHaveLength(4);
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 8 }), (words) => {
        const x = inputOf({ type: 'exec.command', resource: 'h' });
        x.action.params = { command: words.join(' ') };
        expect(fast.evaluate(x)).toEqual(slow.evaluate(x));
      }),
      { numRuns: 500 },
    );
  });
});
