import { describe, expect, it } from 'vitest';
import type { Json } from '../core/action.js';
import type { Actor } from '../core/identity.js';
import { compilePolicyTexts } from './engine.js';
import { PolicyError } from './source.js';
import type { PolicyInput } from './types.js';

const agent: Actor = {
  id: 'agent-1',
  name: 'deploy-bot',
  principal: 'alice@example.com',
  via: 'api_key',
  labels: { env: 'prod', team: 'payments' },
};
const wednesdayNoon = Date.UTC(2026, 0, 7, 12, 0);

function input(
  type: string,
  resource = '',
  params: Record<string, Json> = {},
  extra: Partial<PolicyInput> = {},
): PolicyInput {
  return {
    action: { type, resource, params, justification: 'test' },
    actor: agent,
    now: wednesdayNoon,
    ...extra,
  };
}

const policy = (text: string, file = 'policy.yaml') => compilePolicyTexts([{ file, text }]);

const main = `
version: 1
default: { decision: require_approval }
approval:
  approvers: 1 of sre
  ttl: 2h
  validity: 30m
groups:
  sre: [sre-oncall, platform]
  security-leads: [security-leads]
matchers:
  prod: { resource: "prod/**" }
rules:
  - name: reads-allowed
    match: { type: "*.read" }
    decision: allow
  - name: iam-changes
    match: { type: "aws.iam.*", use: prod }
    decision: require_approval
    approvers: 2 of sre or 1 of security-leads
    deny_threshold: 2
    channels: [slack]
    step_up: 10m
    ttl: 30m
  - name: no-iam-deletes
    match: { type: aws.iam.delete_role }
    decision: deny
    message: Role deletion is not allowed through agents.
  - name: big-exports
    match:
      type: data.export
      params: { rows: { gt: 10000 }, format: { in: [csv, parquet] } }
    decision: require_approval
    approvers: { groups: [security-leads], count: 1 }
  - name: friday-deploys
    match:
      type: deploy
      time: { days: [fri], hours: "12:00-24:00", tz: UTC }
    decision: deny
  - name: payments-team-deploys
    match:
      type: deploy
      actor: { labels: { team: payments } }
      principal: { id: "*@example.com" }
    decision: allow
`;

describe('evaluate', () => {
  const p = policy(main);

  it('allows what an allow rule matches', () => {
    const e = p.evaluate(input('db.read', 'prod/db'));
    expect(e).toMatchObject({ decision: 'allow', rule: 'reads-allowed' });
  });

  it('builds thresholds from named groups', () => {
    const e = p.evaluate(input('aws.iam.attach_role_policy', 'prod/iam'));
    expect(e.decision).toBe('require_approval');
    expect(e.rule).toBe('iam-changes');
    expect(e.requirement).toEqual({
      anyOf: [
        { groups: ['sre-oncall', 'platform'], count: 2 },
        { groups: ['security-leads'], count: 1 },
      ],
      denyThreshold: 2,
      stepUpMs: 600_000,
    });
    expect(e.timers).toEqual({ pendingTtlMs: 1_800_000, approvalValidityMs: 1_800_000 });
    expect(e.channels).toEqual(['slack']);
  });

  it('lets deny beat require_approval whatever the order', () => {
    const e = p.evaluate(input('aws.iam.delete_role', 'prod/iam'));
    expect(e).toMatchObject({
      decision: 'deny',
      rule: 'no-iam-deletes',
      message: 'Role deletion is not allowed through agents.',
    });
  });

  it('matches params with numeric and set tests', () => {
    expect(p.evaluate(input('data.export', 'x', { rows: 20000, format: 'csv' })).rule).toBe('big-exports');
    expect(p.evaluate(input('data.export', 'x', { rows: '20000', format: 'csv' })).rule).toBe('big-exports');
    expect(p.evaluate(input('data.export', 'x', { rows: 200, format: 'csv' })).rule).toBeNull();
    expect(p.evaluate(input('data.export', 'x', { rows: 20000, format: 'json' })).rule).toBeNull();
  });

  it('applies time windows in their zone', () => {
    const friday = Date.UTC(2026, 0, 9, 15, 0);
    expect(p.evaluate(input('deploy', 'prod/web', {}, { now: friday })).decision).toBe('deny');
    expect(p.evaluate(input('deploy', 'prod/web', {}, { now: Date.UTC(2026, 0, 9, 9, 0) })).decision).toBe(
      'allow',
    );
  });

  it('matches actor labels and principal', () => {
    const other = { ...agent, labels: { team: 'web' } };
    expect(p.evaluate(input('deploy', 'prod/web')).rule).toBe('payments-team-deploys');
    expect(p.evaluate(input('deploy', 'prod/web', {}, { actor: other })).rule).toBeNull();
  });

  it('falls back to the default with the default approvers', () => {
    const e = p.evaluate(input('something.else', 'x'));
    expect(e).toMatchObject({ decision: 'require_approval', rule: null });
    expect(e.requirement?.anyOf).toEqual([{ groups: ['sre-oncall', 'platform'], count: 1 }]);
    expect(e.timers).toEqual({ pendingTtlMs: 7_200_000, approvalValidityMs: 1_800_000 });
  });

  it('explains every rule', () => {
    const x = p.explain(input('aws.iam.attach_role_policy', 'staging/iam'));
    const iam = x.rules.find((r) => r.rule === 'iam-changes');
    expect(iam).toMatchObject({ outcome: 'not_matched', failed: 'use prod', chosen: false });
    expect(x.evaluation.rule).toBeNull();
    expect(x.rules.find((r) => r.rule === 'reads-allowed')?.failed).toBe('type is *.read');
  });
});

describe('v1 compatibility', () => {
  it('reads the first policy format unchanged', () => {
    const p = policy(`
version: 1
default: { decision: deny }
approval: { approvers: { groups: [ops], count: 1 }, ttl: 1h, validity: 15m }
rules:
  - name: sre-two
    description: two SREs
    match: { type: "k8s.*", resource: "prod/**" }
    decision: require_approval
    approvers: { groups: [sre], count: 2 }
    ttl: 10m
`);
    const e = p.evaluate(input('k8s.apply', 'prod/cluster/ns'));
    expect(e.requirement).toEqual({ anyOf: [{ groups: ['sre'], count: 2 }], denyThreshold: 1 });
    expect(e.timers.pendingTtlMs).toBe(600_000);
    expect(p.evaluate(input('k8s.apply', 'dev/x')).decision).toBe('deny');
  });
});

describe('load errors', () => {
  const fails = (text: string, where: string, problem: RegExp) => {
    try {
      policy(text);
    } catch (e) {
      expect(e).toBeInstanceOf(PolicyError);
      expect((e as PolicyError).location).toBe(where);
      expect((e as PolicyError).problem).toMatch(problem);
      expect((e as PolicyError).fix.length).toBeGreaterThan(5);
      return;
    }
    throw new Error('expected the policy to be rejected');
  };

  it('points at an unknown key', () => {
    fails(
      'rules:\n  - name: a\n    decision: allow\n    match: { tpye: x }\n',
      'policy.yaml:4:14',
      /unknown key 'tpye' in rules.0.match \(did you mean 'type'\?\)/,
    );
  });
  it('points at a bad decision', () => {
    fails('rules:\n  - name: a\n    decision: maybe\n', 'policy.yaml:3:5', /decision/);
  });
  it('rejects require_approval without approvers', () => {
    fails('rules:\n  - name: a\n    decision: require_approval\n', 'policy.yaml:2:5', /needs approvers/);
  });
  it('rejects duplicate rule names', () => {
    fails(
      'approval: { approvers: 1 of x }\nrules:\n  - { name: a, decision: allow }\n  - { name: a, decision: deny }\n',
      'policy.yaml:4:7',
      /used twice \(first at policy.yaml:3:7\)/,
    );
  });
  it('rejects unknown matchers and cycles', () => {
    fails(
      'rules:\n  - { name: a, decision: allow, match: { use: nope } }\n',
      'policy.yaml:2:42',
      /unknown matcher 'nope'/,
    );
    fails('matchers:\n  a: { use: b }\n  b: { use: a }\nrules: []\n', 'policy.yaml:3:8', /uses itself/);
  });
  it('rejects bad regex, time zones and approvers text', () => {
    fails(
      'rules:\n  - name: a\n    decision: deny\n    match: { params: { x: { regex: "(" } } }\n',
      'policy.yaml:4:29',
      /regular expression/,
    );
    fails(
      'rules:\n  - name: a\n    decision: deny\n    match: { time: { tz: Mars/Base } }\n',
      'policy.yaml:4:22',
      /time zone/,
    );
    fails(
      'rules:\n  - name: a\n    decision: require_approval\n    approvers: 2 of sre or three of x\n',
      'policy.yaml:4:5',
      /approvers clause/,
    );
  });
  it('refuses a default of require_approval with nobody to approve', () => {
    fails('rules: []\n', 'policy.yaml:1:1', /needs approvers/);
  });
  it('reports YAML syntax errors with a position', () => {
    fails('rules: [\n', 'policy.yaml:2:1', /invalid YAML/);
  });
  it('checks inline examples at load', () => {
    const rule = (ex: string) =>
      `default: { decision: deny }\nrules:\n  - name: prod-deletes\n    decision: deny\n    match: { type: k8s.delete, resource: "prod/**" }\n    examples:\n${ex}`;
    expect(() =>
      policy(
        rule(
          '      match: [{ type: k8s.delete, resource: prod/a }]\n      not_match: [{ type: k8s.delete, resource: dev/a }]\n',
        ),
      ),
    ).not.toThrow();
    fails(
      rule('      match: [{ type: k8s.delete, resource: dev/a }]\n'),
      'policy.yaml:7:15',
      /should match but does not/,
    );
    fails(
      rule('      not_match: [{ type: k8s.delete, resource: prod/x }]\n'),
      'policy.yaml:7:19',
      /should not match but does/,
    );
  });
});

describe('several files', () => {
  it('shares groups and matchers across files and refuses a second default', () => {
    const files = [
      {
        file: 'base.yaml',
        text: 'default: { decision: deny }\ngroups: { dba: [db-admins] }\nmatchers: { prod: { resource: "prod/**" } }\n',
      },
      {
        file: 'sql.yaml',
        text: 'rules:\n  - { name: prod-sql, decision: require_approval, approvers: 2 of dba, match: { type: sql.statement, use: prod } }\n',
      },
    ];
    const p = compilePolicyTexts(files);
    expect(p.sources).toEqual(['base.yaml', 'sql.yaml']);
    expect(p.evaluate(input('sql.statement', 'prod/db')).requirement?.anyOf).toEqual([
      { groups: ['db-admins'], count: 2 },
    ]);
    expect(() =>
      compilePolicyTexts([...files, { file: 'x.yaml', text: 'default: { decision: allow }\n' }]),
    ).toThrow(/x.yaml:1:1: 'default' is already set in base.yaml:1:1/);
  });
  it('gives a different version to different content', () => {
    expect(policy('default: { decision: deny }\n').version).not.toBe(
      policy('default: { decision: deny }\n# changed\n').version,
    );
  });
});

describe('matchers', () => {
  const p = policy(`
default: { decision: deny }
rules:
  - name: tagged
    match: { params: { tags.0: { glob: "team-*" }, owner: { regex: "^[a-z]+@corp\\\\.com$" }, dry_run: { exists: false } } }
    decision: allow
  - name: night
    match: { type: night.job, time: { hours: "22:00-06:00", tz: Europe/Berlin } }
    decision: allow
  - name: ns-prod
    match: { type: exec.command, shell: { command: "kubectl delete", options: { n: prod } } }
    decision: allow
  - name: groups
    match: { type: grp, principal: { groups: "admins-*" } }
    decision: allow
  - name: github
    match: { type: http.request, http: { method: DELETE, host: "*.github.com", path: "/repos/{owner}/{repo}", query: { force: "true" } } }
    decision: allow
`);
  const at = (type: string, params: Record<string, Json> = {}, extra: Partial<PolicyInput> = {}) =>
    p.evaluate(input(type, 'r', params, extra)).rule;

  it('tests params with glob, regex and exists', () => {
    expect(at('x', { tags: ['team-a'], owner: 'ann@corp.com' })).toBe('tagged');
    expect(at('x', { tags: ['team-a'], owner: 'ann@corp.com', dry_run: false })).toBeNull();
    expect(at('x', { tags: ['team-a'], owner: 'ann@corp.com.evil' })).toBeNull();
    expect(at('x', { tags: ['other'], owner: 'ann@corp.com' })).toBeNull();
  });

  it('handles time windows that wrap midnight in the zone', () => {
    expect(at('night.job', {}, { now: Date.UTC(2026, 0, 7, 22, 30) })).toBe('night');
    expect(at('night.job', {}, { now: Date.UTC(2026, 0, 7, 4, 30) })).toBe('night');
    expect(at('night.job', {}, { now: Date.UTC(2026, 0, 7, 12, 0) })).toBeNull();
  });

  it('reads short and long option spellings', () => {
    expect(at('exec.command', { command: 'kubectl -n prod delete pod x' })).toBe('ns-prod');
    expect(at('exec.command', { command: 'kubectl delete pod x -nprod' })).toBe('ns-prod');
    expect(at('exec.command', { command: 'kubectl delete pod x -n staging' })).toBeNull();
  });

  it('matches principal groups when the gateway knows them', () => {
    expect(at('grp', {}, { principalGroups: ['admins-eu'] })).toBe('groups');
    expect(at('grp', {}, { principalGroups: ['users'] })).toBeNull();
    expect(at('grp')).toBeNull();
  });

  it('matches HTTP method, host, path template and query', () => {
    const url = 'https://api.github.com/repos/acme/web?force=true';
    expect(at('http.request', { method: 'delete', url })).toBe('github');
    expect(
      at('http.request', { method: 'DELETE', url: 'https://api.github.com/repos/acme/web/extra?force=true' }),
    ).toBeNull();
    expect(at('http.request', { method: 'DELETE', url: 'https://api.github.com/repos/acme/web' })).toBeNull();
  });
});
