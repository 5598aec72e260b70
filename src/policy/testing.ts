import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import type { Json } from '../core/action.js';
import type { Actor } from '../core/identity.js';
import { exampleInput } from './compile.js';
import { loadPolicyFiles } from './engine.js';
import { PolicyError, parseYamlFile, validateYaml } from './source.js';
import type { Evaluation, PolicyInput } from './types.js';

const Decision = Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('require_approval')]);

export const PolicyTestFile = Type.Object(
  {
    policy: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'Policy files, relative to this file; `--policy` overrides.',
      }),
    ),
    cases: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1 }),
          action: Type.Object(
            {
              type: Type.String({ minLength: 1 }),
              resource: Type.Optional(Type.String()),
              params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
              justification: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
          actor: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          principal_groups: Type.Optional(Type.Array(Type.String())),
          at: Type.Optional(Type.String({ description: 'ISO 8601 time of the request.' })),
          expect: Type.Object(
            {
              decision: Decision,
              rule: Type.Optional(
                Type.Union([Type.String(), Type.Null()], {
                  description: 'The deciding rule; null for the default.',
                }),
              ),
            },
            { additionalProperties: false },
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);
type TestFileT = Static<typeof PolicyTestFile>;
type CaseT = TestFileT['cases'][number];

export interface CaseResult {
  name: string;
  location: string;
  ok: boolean;
  expected: { decision: string; rule?: string | null };
  actual: { decision: string; rule: string | null; reason: string };
}

export interface FileResult {
  file: string;
  policy: string[];
  policyVersion: string;
  cases: CaseResult[];
}

export interface TestReport {
  files: FileResult[];
  passed: number;
  failed: number;
}

function inputOf(c: CaseT): PolicyInput {
  const input = exampleInput({
    type: c.action.type,
    resource: c.action.resource ?? '',
    params: c.action.params ?? {},
    actor: c.actor,
    at: c.at,
  });
  input.action.justification = c.action.justification ?? '';
  input.action.params = (c.action.params ?? {}) as Record<string, Json>;
  input.actor = { ...input.actor, ...(c.actor as Partial<Actor> | undefined) };
  if (c.principal_groups) input.principalGroups = c.principal_groups;
  return input;
}

function judge(c: CaseT, e: Evaluation): boolean {
  if (e.decision !== c.expect.decision) return false;
  return c.expect.rule === undefined || c.expect.rule === e.rule;
}

/** Runs one YAML test file against its policy (or `policyOverride`). Throws PolicyError for invalid files. */
export function runTestFile(file: string, policyOverride?: string[]): FileResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PolicyError(
      file,
      `cannot read test file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      'Check the path',
    );
  }
  const yaml = parseYamlFile(text, file);
  const doc = validateYaml<TestFileT>(
    PolicyTestFile,
    yaml,
    'See docs/policy.md#testing-a-policy for the test file format',
  );
  const policyFiles = policyOverride ?? doc.policy?.map((p) => resolve(dirname(file), p));
  if (!policyFiles)
    throw new PolicyError(
      yaml.where([]),
      'the test file names no policy',
      'Add `policy: [file.yaml]` (relative to the test file) or pass --policy',
    );
  const policy = loadPolicyFiles(policyFiles);
  doc.cases.forEach((c, i) => {
    if (c.at !== undefined && Number.isNaN(Date.parse(c.at)))
      throw new PolicyError(
        yaml.where(['cases', i, 'at']),
        `'${c.at}' is not an ISO 8601 time`,
        'Write it like 2026-01-07T12:00:00Z',
      );
  });
  const cases = doc.cases.map((c, i): CaseResult => {
    const e = policy.evaluate(inputOf(c));
    return {
      name: c.name,
      location: yaml.where(['cases', i]),
      ok: judge(c, e),
      expected: c.expect,
      actual: { decision: e.decision, rule: e.rule, reason: e.reason },
    };
  });
  return { file, policy: policyFiles, policyVersion: policy.version, cases };
}

export function runPolicyTests(files: string[], policyOverride?: string[]): TestReport {
  const results = files.map((f) => runTestFile(f, policyOverride));
  const all = results.flatMap((r) => r.cases);
  return { files: results, passed: all.filter((c) => c.ok).length, failed: all.filter((c) => !c.ok).length };
}
