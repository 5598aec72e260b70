import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { exit, report } from '../src/cli/output.js';
import { buildProgram } from '../src/cli/program.js';
import { runCli } from './support/process.js';

const spawned = (args: string[]) => runCli(args);

/** Runs the CLI in this process, as main.ts does, capturing its output and exit code. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
  process.exitCode = 0;
  let code: number;
  try {
    await buildProgram().parseAsync(['node', 'countersign', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    code = error instanceof CommanderError ? (error.exitCode === 0 ? exit.ok : exit.usage) : report(error);
  } finally {
    o.mockRestore();
    e.mockRestore();
    process.exitCode = 0;
  }
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'cs-policy-cli-'));
const platform = ['base', 'iam', 'data', 'secrets', 'network', 'deploys'].map(
  (f) => `examples/policies/platform/${f}.yaml`,
);

describe('countersign policy', () => {
  it('check: ok for valid files, exit 2 with file:line:column for invalid ones', async () => {
    const ok = await cli(['policy', 'check', ...platform]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^ok: \d+ rules in 6 file\(s\), version [0-9a-f]{12}/);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'rules:\n  - name: a\n    decision: alow\n');
    const r = await cli(['policy', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `${bad}:3:5: rules.0.decision is "alow"; it must be one of "allow", "deny", "require_approval"`,
    );
    const json = await cli(['policy', 'check', '--json', ...platform]);
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, files: platform });
  });

  it('check: a folder glob that picks up the test file checks the policy and skips the test file', async () => {
    const test = 'examples/policies/platform/platform.test.yaml';
    const r = await cli(['policy', 'check', ...platform, test]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ok: \d+ rules in 6 file\(s\)/);
    expect(r.err).toContain(
      `note: skipped ${test}, a policy test file; run it with \`countersign policy test ${test}\``,
    );
    const json = await cli(['policy', 'check', '--json', ...platform, test]);
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, files: platform, skipped: [test] });
    const only = await cli(['policy', 'check', test]);
    expect(only.code).toBe(2);
    expect(only.err).toContain('every file given is a policy test file');
  });

  it('test: exit 0 when every case passes, 1 when one fails', async () => {
    const pass = await cli(['policy', 'test', 'examples/policies/platform/platform.test.yaml']);
    expect(pass.code).toBe(0);
    expect(pass.out).toMatch(/\n\d+ passed, 0 failed\n$/);
    const file = join(dir, 'wrong.test.yaml');
    writeFileSync(
      file,
      'cases:\n  - name: iam is allowed\n    action: { type: aws.iam.attach_role_policy }\n    expect: { decision: allow }\n',
    );
    // Once through a real process, for the exit code CI sees.
    const fail = await spawned(['policy', 'test', '--policy', 'examples/policies/default.yaml', '--', file]);
    expect(fail.code).toBe(1);
    expect(fail.out).toContain('FAIL  iam is allowed');
    expect(fail.out).toContain('got      require_approval by iam-changes');
    expect(fail.out).toMatch(/0 passed, 1 failed/);
  });

  it('check and test with --json print one JSON failure on stdout when a file is invalid, exit 2', async () => {
    const bad = join(dir, 'bad-json.yaml');
    writeFileSync(bad, 'rules:\n  - name: a\n    decision: alow\n');
    const missing = join(dir, 'missing.test.yaml');
    for (const [args, where] of [
      [['policy', 'check', '--json', bad], `${bad}:3:5`],
      [['policy', 'test', '--json', missing], missing],
    ] as const) {
      const r = await spawned([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      const { ok, error } = JSON.parse(r.out);
      expect({ ok, code: error.code, where: error.where }).toEqual({
        ok: false,
        code: 'invalid_file',
        where,
      });
      expect(r.err).toBe(`error: ${error.message}\n`);
    }
  });

  it('explain: every rule with its outcome, and the decision', async () => {
    const action = JSON.stringify({
      type: 'exec.command',
      resource: 'host/a',
      params: { command: "sudo bash -c 'kubectl -n prod delete pod x'" },
    });
    const r = await cli(['policy', 'explain', '--policy', ...platform, '--action', action, '--json']);
    expect(r.code).toBe(0);
    const x = JSON.parse(r.out);
    expect(x.evaluation).toMatchObject({ decision: 'require_approval', rule: 'kubectl-prod-changes' });
    expect(x.evaluation.facts.shell.programs).toEqual(['sudo', 'bash', 'kubectl']);
    expect(x.rules.find((v: { rule: string }) => v.rule === 'terraform-apply')).toMatchObject({
      outcome: 'not_matched',
    });
    const text = await cli([
      'policy',
      'explain',
      '--policy',
      'examples/policies/default.yaml',
      '--action',
      '{"type":"db.drop","resource":"prod/db"}',
    ]);
    expect(text.out).toMatch(/\* no-prod-database-drop +deny +matched/);
    expect(text.out).toMatch(/decision: deny/);
    const bad = await cli([
      'policy',
      'explain',
      '--policy',
      'examples/policies/default.yaml',
      '--action',
      '{nope',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--action is not valid JSON/);
    const missing = join(dir, 'missing.json');
    const noFile = await cli([
      'policy',
      'explain',
      '--policy',
      'examples/policies/default.yaml',
      '--action',
      `@${missing}`,
    ]);
    expect(noFile.code).toBe(2);
    expect(noFile.err).toBe(
      `error: ${missing}: cannot read the --action file (no such file or directory); check the path after @, or pass the JSON object itself\n`,
    );
  });
});
