import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from './load.js';
import { runPolicyTests } from './testing.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.yaml'))
    .map((f) => join(dir, f))
    .sort();
}

describe('examples/policies', () => {
  const files = testFiles('examples/policies');

  it('has test files for the example policies', () => {
    expect(files).toEqual([
      'examples/policies/default.test.yaml',
      'examples/policies/platform/platform.test.yaml',
    ]);
  });

  it.each(files)('%s passes', (file) => {
    const report = runPolicyTests([file]);
    const failures = report.files.flatMap((f) => f.cases.filter((c) => !c.ok));
    expect(failures).toEqual([]);
    expect(report.passed).toBeGreaterThan(3);
  });

  it('loads the platform policy as one policy from several files', () => {
    const dir = 'examples/policies/platform';
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'));
    expect(loadPolicy(files.map((f) => join(dir, f))).compiled.rules.length).toBeGreaterThan(15);
  });
});

describe('policy test runner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-policy-test-'));
  writeFileSync(
    join(dir, 'p.yaml'),
    'default: { decision: deny }\nrules:\n  - { name: reads, decision: allow, match: { type: "*.read" } }\n',
  );

  it('reports a wrong expectation with its location and what happened', () => {
    writeFileSync(
      join(dir, 'p.test.yaml'),
      'policy: [p.yaml]\ncases:\n  - name: ok\n    action: { type: db.read }\n    expect: { decision: allow, rule: reads }\n  - name: wrong\n    action: { type: db.write }\n    expect: { decision: allow }\n',
    );
    const report = runPolicyTests([join(dir, 'p.test.yaml')]);
    expect(report).toMatchObject({ passed: 1, failed: 1 });
    expect(report.files[0]?.cases[1]).toMatchObject({
      ok: false,
      location: `${join(dir, 'p.test.yaml')}:6:5`,
      actual: { decision: 'deny', rule: null },
    });
  });

  it('rejects a malformed test file with file:line:column', () => {
    writeFileSync(
      join(dir, 'bad.test.yaml'),
      'policy: [p.yaml]\ncases:\n  - name: x\n    action: { type: a }\n    expect: { decison: allow }\n',
    );
    expect(() => runPolicyTests([join(dir, 'bad.test.yaml')])).toThrow(
      /bad\.test\.yaml:5:15: unknown key 'decison'/,
    );
  });
});
