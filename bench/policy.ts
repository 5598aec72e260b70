// npm run bench:policy — the policy engine against AWS Cedar (official WebAssembly build) on
// equivalent 1,000-rule policy sets, in the same run, plus shell and SQL classification costs.
import { cpus } from 'node:os';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Json } from '../src/core/action.js';
import type { PolicyDecision } from '../src/core/request.js';
import { classifySql } from '../src/policy/classifiers/index.js';
import { classifyShell, classifyShellUncached } from '../src/policy/classifiers/shell.js';
import { compilePolicyTexts } from '../src/policy/engine.js';
import type { PolicyInput } from '../src/policy/types.js';

const RULES = 1000;
const SERVICES = 100;
const verbs = ['read', 'list', 'write', 'delete', 'export', 'rotate', 'deploy', 'scale', 'grant', 'restart'];
const envs = ['prod', 'staging', 'dev'];

/** A small deterministic PRNG so every run measures the same policy and the same actions. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface RuleSpec {
  id: string;
  service: number;
  verb: string | null;
  env: string;
  decision: PolicyDecision;
  minRows: number | null;
  team: string | null;
}

function makeRules(rand: () => number, count = RULES): RuleSpec[] {
  const rules: RuleSpec[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    rules.push({
      id: `r${i}`,
      service: Math.floor(rand() * SERVICES),
      verb: rand() < 0.15 ? null : (verbs[Math.floor(rand() * verbs.length)] as string),
      env: envs[Math.floor(rand() * envs.length)] as string,
      decision: r < 0.2 ? 'deny' : r < 0.65 ? 'require_approval' : 'allow',
      minRows: rand() < 0.2 ? Math.floor(rand() * 100_000) : null,
      team: rand() < 0.2 ? (['payments', 'web', 'data'][Math.floor(rand() * 3)] as string) : null,
    });
  }
  return rules;
}

function ourPolicy(rules: RuleSpec[]): string {
  const lines = ['default: { decision: require_approval }', 'approval: { approvers: 1 of sre }', 'rules:'];
  for (const r of rules) {
    const m = [`type: "svc${r.service}.${r.verb ?? '*'}"`, `resource: "${r.env}/svc${r.service}/**"`];
    if (r.minRows !== null) m.push(`params: { rows: { gt: ${r.minRows} } }`);
    if (r.team !== null) m.push(`actor: { labels: { team: ${r.team} } }`);
    lines.push(`  - { name: ${r.id}, decision: ${r.decision}, match: { ${m.join(', ')} } }`);
  }
  return `${lines.join('\n')}\n`;
}

/** The same rules in Cedar: deny → forbid; allow and require_approval → permit, told apart by id. */
function cedarPolicies(rules: RuleSpec[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rules) {
    const conds = [
      `context.type like "svc${r.service}.${r.verb ?? '*'}"`,
      `context.resource like "${r.env}/svc${r.service}/*"`,
    ];
    if (r.minRows !== null) conds.push(`context has rows && context.rows > ${r.minRows}`);
    if (r.team !== null) conds.push(`context.team == "${r.team}"`);
    const effect = r.decision === 'deny' ? 'forbid' : 'permit';
    out[r.id] = `${effect}(principal, action, resource) when { ${conds.join(' && ')} };`;
  }
  return out;
}

interface Sample {
  input: PolicyInput;
  context: Record<string, Json>;
}

function makeSamples(rules: RuleSpec[], n: number, rand: () => number): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const hit = rand() < 0.7 ? rules[Math.floor(rand() * rules.length)] : undefined;
    const service = hit ? hit.service : SERVICES + Math.floor(rand() * 50);
    const verb = hit?.verb ?? (verbs[Math.floor(rand() * verbs.length)] as string);
    const env = hit ? hit.env : (envs[Math.floor(rand() * envs.length)] as string);
    const rows = Math.floor(rand() * 200_000);
    const team = ['payments', 'web', 'data', 'ops'][Math.floor(rand() * 4)] as string;
    const type = `svc${service}.${verb}`;
    const resource = `${env}/svc${service}/db${Math.floor(rand() * 5)}`;
    out.push({
      input: {
        action: { type, resource, params: { rows }, justification: '' },
        actor: { id: 'agent', name: 'agent', principal: null, via: 'api_key', labels: { team } },
        now: 0,
      },
      context: { type, resource, rows, team },
    });
  }
  return out;
}

const requireIds = (rules: RuleSpec[]) =>
  new Set(rules.filter((r) => r.decision === 'require_approval').map((r) => r.id));

function cedarDecide(s: Sample, requireApproval: Set<string>): PolicyDecision {
  const answer = cedar.statefulIsAuthorized({
    principal: { type: 'Agent', id: 'agent' },
    action: { type: 'Action', id: 'call' },
    resource: { type: 'Resource', id: 'r' },
    context: s.context,
    preparsedPolicySetId: 'bench',
    entities: [],
  });
  if (answer.type !== 'success') throw new Error(`cedar failed: ${JSON.stringify(answer.errors)}`);
  const { decision, diagnostics } = answer.response;
  if (decision === 'deny') return diagnostics.reason.length > 0 ? 'deny' : 'require_approval';
  return diagnostics.reason.some((id) => requireApproval.has(id)) ? 'require_approval' : 'allow';
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Per-call latencies (ns) and throughput (calls/s) of `fn` over the samples. */
function measure<T>(
  items: T[],
  fn: (x: T) => unknown,
  rounds: number,
): { p50: number; p99: number; perSec: number } {
  const lat: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const x of items) {
      const t0 = process.hrtime.bigint();
      fn(x);
      lat.push(Number(process.hrtime.bigint() - t0));
    }
  }
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) for (const x of items) fn(x);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), perSec: (items.length * rounds) / secs };
}

const us = (ns: number) => `${(ns / 1000).toFixed(ns < 10_000 ? 2 : 0)} µs`;

function main(): void {
  const rand = rng(42);
  const rules = makeRules(rand);
  const policy = compilePolicyTexts([{ file: 'bench.yaml', text: ourPolicy(rules) }]);
  const pre = cedar.preparsePolicySet('bench', { staticPolicies: cedarPolicies(rules) });
  if (pre.type !== 'success')
    throw new Error(`cedar could not parse the policy set: ${JSON.stringify(pre.errors)}`);
  const samples = makeSamples(rules, 5000, rand);
  const requireApproval = requireIds(rules);

  // Same decisions, or the comparison means nothing.
  const cedarSamples = samples.slice(0, 300);
  let mismatches = 0;
  for (const s of cedarSamples)
    if (policy.evaluate(s.input).decision !== cedarDecide(s, requireApproval)) mismatches++;
  const mix = new Map<string, number>();
  for (const s of samples) {
    const d = policy.evaluate(s.input).decision;
    mix.set(d, (mix.get(d) ?? 0) + 1);
  }

  for (let i = 0; i < 3; i++) for (const s of samples) policy.evaluate(s.input);
  const ours = measure(samples, (s) => policy.evaluate(s.input), 20);
  for (const s of cedarSamples.slice(0, 20)) cedarDecide(s, requireApproval);
  const theirs = measure(cedarSamples, (s) => cedarDecide(s, requireApproval), 1);

  const shellCmds = [
    'kubectl -n prod get pods',
    "sudo -u deploy env A=1 bash -c 'kubectl -n prod delete pod web-1 | tee /tmp/log'",
    'cd infra && terraform apply -auto-approve',
    'find . -name "*.log" -exec rm -f {} \\;',
    'aws iam attach-role-policy --role-name app --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess',
  ];
  const sqls = [
    'select * from orders where id = 1',
    "with x as (delete from orders where created_at < now() - interval '1 year' returning *) select count(*) from x",
    'UPDATE users SET admin = true',
    "copy (select * from customers) to '/tmp/c.csv'",
    'begin; alter table orders add column note text; commit;',
  ];
  for (let i = 0; i < 100; i++) {
    for (const c of shellCmds) classifyShellUncached(c);
    for (const q of sqls) classifySql(q);
  }
  const shell = measure(shellCmds, classifyShellUncached, 100);
  const shellCached = measure(shellCmds, classifyShell, 1000);
  const sql = measure(sqls, classifySql, 400);

  // Flatness: the same kind of mix against 100 and 10,000 rules (ours only; Cedar grows linearly).
  const scaling = [100, 10_000].map((n) => {
    const r2 = rng(7);
    const rs = makeRules(r2, n);
    const p = compilePolicyTexts([{ file: `bench-${n}.yaml`, text: ourPolicy(rs) }]);
    const ss = makeSamples(rs, 5000, r2);
    for (let i = 0; i < 3; i++) for (const x of ss) p.evaluate(x.input);
    return { n, m: measure(ss, (x) => p.evaluate(x.input), 10) };
  });

  const rows: string[][] = [
    ['', 'decisions/s', 'p50', 'p99'],
    [
      'countersign (1,000 rules)',
      Math.round(ours.perSec).toLocaleString('en-US'),
      us(ours.p50),
      us(ours.p99),
    ],
    [
      'cedar-wasm (1,000 policies, preparsed)',
      Math.round(theirs.perSec).toLocaleString('en-US'),
      us(theirs.p50),
      us(theirs.p99),
    ],
    ...scaling.map(({ n, m }) => [
      `countersign (${n.toLocaleString('en-US')} rules)`,
      Math.round(m.perSec).toLocaleString('en-US'),
      us(m.p50),
      us(m.p99),
    ]),
    ['ratio (countersign / cedar)', `${(ours.perSec / theirs.perSec).toFixed(0)}×`, '', ''],
    [
      'shell classification (parse)',
      Math.round(shell.perSec).toLocaleString('en-US'),
      us(shell.p50),
      us(shell.p99),
    ],
    [
      'shell classification (cache hit)',
      Math.round(shellCached.perSec).toLocaleString('en-US'),
      us(shellCached.p50),
      us(shellCached.p99),
    ],
    ['SQL classification', Math.round(sql.perSec).toLocaleString('en-US'), us(sql.p50), us(sql.p99)],
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  console.log(
    `node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, cedar ${cedar.getCedarVersion()}`,
  );
  console.log(
    `mix of ${samples.length} actions: ${[...mix].map(([d, n]) => `${d} ${n}`).join(', ')}; cedar checked on ${cedarSamples.length}, decisions that differ: ${mismatches}`,
  );
  console.log(
    rows
      .map((r) =>
        r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  '),
      )
      .join('\n'),
  );
  if (mismatches > 0) process.exitCode = 1;
}

main();
