import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agent } from '../../test/support/fixtures.js';
import { SourceError } from '../util/yaml-source.js';
import { compilePolicy } from './load.js';

const compile = (text: string) => compilePolicy([{ file: 'policy.yaml', text }]);
const evaluate = (text: string, type: string, resource = 'r') =>
  compile(text).evaluate({ action: { type, resource, params: {}, justification: '' }, actor: agent, now: 0 });
function errorOf(text: string): string {
  try {
    compile(text);
  } catch (e) {
    if (e instanceof SourceError) return e.message;
    throw e;
  }
  throw new Error('expected the policy to be refused');
}

const base = `version: 1
approval: { approvers: { groups: [sre], count: 1 } }
`;

describe('policy v1', () => {
  it('matches type and resource globs', () => {
    const p = `${base}rules:
  - { name: prod-deploy, match: { type: "deploy.*", resource: "prod/**" }, decision: require_approval }
  - { name: reads, match: { type: ["*.read", "*.list"] }, decision: allow }
`;
    expect(evaluate(p, 'deploy.k8s', 'prod/eu/api').rule).toBe('prod-deploy');
    expect(evaluate(p, 'deploy.k8s', 'staging/api').rule).toBeNull();
    expect(evaluate(p, 's3.list').decision).toBe('allow');
  });

  it('lets deny beat approval beat allow, whatever the rule order', () => {
    const rules = [
      '  - { name: a, match: { type: "x.*" }, decision: allow }',
      '  - { name: b, match: { type: "x.y" }, decision: require_approval }',
      '  - { name: c, match: { resource: "prod/**" }, decision: deny }',
    ];
    fc.assert(
      fc.property(fc.shuffledSubarray([0, 1, 2], { minLength: 3, maxLength: 3 }), (order) => {
        const p = `${base}rules:\n${order.map((i) => rules[i]).join('\n')}\n`;
        expect(evaluate(p, 'x.y', 'prod/db').decision).toBe('deny');
        expect(evaluate(p, 'x.y', 'dev/db').decision).toBe('require_approval');
        expect(evaluate(p, 'x.z', 'dev/db').decision).toBe('allow');
      }),
    );
  });

  it('defaults to require_approval when nothing matches, and never silently allows', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (type) => {
        const e = evaluate(`${base}rules: []\n`, type);
        expect(e.decision).toBe('require_approval');
        expect(e.rule).toBeNull();
      }),
    );
    expect(evaluate(`${base}default: { decision: allow }\nrules: []\n`, 'x').decision).toBe('allow');
  });

  it('records the content hash as the version', () => {
    const a = compile(`${base}rules: []\n`);
    const b = compile(`${base}rules: []\n# comment\n`);
    expect(a.version).toMatch(/^[0-9a-f]{64}$/);
    expect(a.version).not.toBe(b.version);
  });

  it('gives the same files the same version however their paths are spelled', () => {
    const texts = [`${base}rules: []\n`, 'version: 1\nrules: []\n'];
    const version = (...files: string[]) =>
      compilePolicy(files.map((file, i) => ({ file, text: texts[i] as string }))).version;
    expect(version('policy.yaml', 'extra.yaml')).toBe(
      version('/etc/countersign/policy.yaml', './policies/../policies/extra.yaml'),
    );
    // The order decides which rule matches first, and the names are in every message: both count.
    expect(version('policy.yaml', 'extra.yaml')).not.toBe(version('extra.yaml', 'policy.yaml'));
    expect(version('policy.yaml')).not.toBe(version('other.yaml'));
  });

  it('applies per-rule approvers and clocks', () => {
    const p = `${base}rules:
  - name: iam
    match: { type: "aws.iam.*" }
    decision: require_approval
    approvers: { groups: [sre, security], count: 2 }
    ttl: 30m
    validity: 5m
`;
    const e = evaluate(p, 'aws.iam.put');
    expect(e.requirement).toEqual({ anyOf: [{ groups: ['sre', 'security'], count: 2 }], denyThreshold: 1 });
    expect(e.timers).toEqual({ pendingTtlMs: 1_800_000, approvalValidityMs: 300_000 });
  });

  it('fails with file:line:column and what to do', () => {
    expect(errorOf('version: 1\nrules:\n  - name: x\n    match: {}\n    decision: maybe\n')).toMatch(
      /^policy\.yaml:5:5: .*decision/,
    );
    expect(errorOf('version: 1\nrules:\n  - name: x\n    mtach: {}\n    decision: allow\n')).toMatch(
      /^policy\.yaml:4:5: unknown key 'mtach'/,
    );
    expect(errorOf('version: 1\nrules: [\n')).toMatch(/^policy\.yaml:\d+:\d+: invalid YAML/);
    expect(errorOf('version: 1\nrules:\n  - { name: x, match: {}, decision: require_approval }\n')).toMatch(
      /policy\.yaml:3:\d+: require_approval needs approvers.*Add `approvers/,
    );
    expect(
      errorOf(
        `${base}rules:\n  - { name: x, match: {}, decision: allow }\n  - { name: x, match: {}, decision: deny }\n`,
      ),
    ).toMatch(/policy\.yaml:5:\d+: rule name 'x' is used twice/);
    expect(errorOf(`${base}rules:\n  - { name: x, match: {}, decision: allow, ttl: soon }\n`)).toMatch(
      /policy\.yaml:4:/,
    );
  });
});
