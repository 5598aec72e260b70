import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse } from 'yaml';
import type { Json } from '../../core/action.js';
import type { Actor } from '../../core/identity.js';
import { loadPolicy } from '../../policy/load.js';
import { runPolicyTests, type TestReport } from '../../policy/testing.js';
import type { Explanation } from '../../policy/types.js';
import { examplePolicy } from '../../server/gateway.js';
import { resolveConfig } from '../context.js';
import { jsonObjectArg } from '../files.js';
import { exit, printJson, table, UsageError } from '../output.js';

/** A policy test file (top-level `cases:`), as a folder glob like `policies/*.yaml` picks up. */
function isTestFile(file: string): boolean {
  try {
    const doc: unknown = parse(readFileSync(file, 'utf8'));
    return typeof doc === 'object' && doc !== null && !Array.isArray(doc) && 'cases' in doc;
  } catch {
    // Unreadable or not YAML: loading it as a policy reports that with file and line.
    return false;
  }
}

function check(files: string[], opts: { json?: boolean }): void {
  const skipped = files.filter(isTestFile);
  const policyFiles = files.filter((f) => !skipped.includes(f));
  for (const f of skipped)
    process.stderr.write(
      `note: skipped ${f}, a policy test file; run it with \`countersign policy test ${f}\`\n`,
    );
  if (policyFiles.length === 0)
    throw new UsageError('no policy files to check: every file given is a policy test file');
  const policy = loadPolicy(policyFiles);
  const rules = policy.compiled.rules.length;
  if (opts.json) printJson({ ok: true, version: policy.version, files: policy.sources, rules, skipped });
  else
    process.stdout.write(
      `ok: ${rules} rules in ${policyFiles.length} file(s), version ${policy.version.slice(0, 12)}\n`,
    );
}

function printTests(report: TestReport): void {
  for (const f of report.files) {
    process.stdout.write(`${f.file} (policy ${f.policy.join(', ')})\n`);
    for (const c of f.cases) {
      process.stdout.write(`  ${c.ok ? 'pass' : 'FAIL'}  ${c.name}\n`);
      if (!c.ok) {
        const want = `${c.expected.decision}${c.expected.rule !== undefined ? ` by ${c.expected.rule ?? 'the default'}` : ''}`;
        process.stdout.write(
          `        at ${c.location}\n        expected ${want}\n        got      ${c.actual.decision} by ${c.actual.rule ?? 'the default'}: ${c.actual.reason}\n`,
        );
      }
    }
  }
  process.stdout.write(`${report.passed} passed, ${report.failed} failed\n`);
}

function test(files: string[], opts: { policy?: string[]; json?: boolean }): void {
  const report = runPolicyTests(files, opts.policy);
  if (opts.json) printJson(report);
  else printTests(report);
  process.exitCode = report.failed === 0 ? exit.ok : exit.failure;
}

function printExplanation(x: Explanation): void {
  const rows = [['rule', 'decision', 'outcome', 'why', 'where']];
  for (const r of x.rules)
    rows.push([`${r.chosen ? '* ' : '  '}${r.rule}`, r.decision, r.outcome, r.failed ?? '', r.location]);
  process.stdout.write(`${table(rows)}\n\n`);
  const e = x.evaluation;
  process.stdout.write(
    `decision: ${e.decision}\nrule:     ${e.rule ?? '(default)'}\nreason:   ${e.reason}\n`,
  );
  if (e.requirement)
    process.stdout.write(
      `needs:    ${e.requirement.anyOf.map((c) => `${c.count} of [${c.groups.join(', ')}]`).join(' or ')}\n`,
    );
  if (e.message) process.stdout.write(`message:  ${e.message}\n`);
  process.stdout.write(`policy:   ${x.policyVersion.slice(0, 12)}\n`);
}

/** The configuration's policy files, else the data dir's copy, else the example; never writes anything. */
function configuredPolicy(opts: { config?: string }): string[] {
  const config = resolveConfig(opts);
  if (config.policyFiles) return config.policyFiles;
  const copy = join(config.dataDir, 'policy.yaml');
  return [existsSync(copy) ? copy : examplePolicy];
}

interface ExplainOptions {
  action: string;
  actor?: string;
  at?: string;
  policy?: string[];
  config?: string;
  json?: boolean;
}

function explain(opts: ExplainOptions): void {
  const files = opts.policy ?? configuredPolicy(opts);
  const policy = loadPolicy(files);
  const a = jsonObjectArg('--action', opts.action);
  if (typeof a.type !== 'string')
    throw new UsageError(
      '--action needs a string "type", e.g. {"type":"exec.command","params":{"command":"ls"}}',
    );
  const actor: Actor = {
    id: 'cli',
    name: 'cli',
    principal: null,
    via: 'api_key',
    ...(opts.actor ? (jsonObjectArg('--actor', opts.actor) as Partial<Actor>) : {}),
  };
  const now = opts.at ? Date.parse(opts.at) : Date.now();
  if (Number.isNaN(now)) throw new UsageError(`--at '${opts.at}' is not an ISO 8601 time`);
  const x = policy.explain({
    action: {
      type: a.type,
      resource: typeof a.resource === 'string' ? a.resource : '',
      params: (a.params ?? {}) as Record<string, Json>,
      justification: '',
    },
    actor,
    now,
  });
  if (opts.json) printJson(x);
  else printExplanation(x);
}

export function policyCommands(program: Command): void {
  const policy = program.command('policy').description('check, test and explain policy files');
  policy
    .command('check')
    .description('validate policy files; errors name file:line:column and what to do (exit 2 when invalid)')
    .argument('<files...>', 'policy files, read as one policy; policy test files among them are skipped')
    .option('--json', 'print the result as JSON')
    .action((files: string[], opts: { json?: boolean }) => check(files, opts));
  policy
    .command('test')
    .description(
      'run YAML policy test cases (given action, expected decision and rule); exit 1 when any fails',
    )
    .argument('<files...>', 'test files (see docs/policy.md#testing-a-policy)')
    .option('--policy <files...>', 'policy files to test instead of those each test file names')
    .option('--json', 'print the results as JSON')
    .action((files: string[], opts: { policy?: string[]; json?: boolean }) => test(files, opts));
  policy
    .command('explain')
    .description('show which rules match an action, which do not and why, and the final decision')
    .requiredOption('--action <json>', 'the action as JSON ({"type","resource","params"}) or @file.json')
    .option('--actor <json>', 'the actor as JSON ({"id","labels","principal"}) or @file.json')
    .option('--at <time>', 'evaluate as of this ISO 8601 time (default now)')
    .option('--policy <files...>', 'policy files (default: those of the configuration)')
    .option('-c, --config <file>', 'configuration file, for its policy files')
    .option('--json', 'print the explanation as JSON')
    .action((opts: ExplainOptions) => explain(opts));
}
