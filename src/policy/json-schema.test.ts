import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { policyJsonSchema } from './json-schema.js';
import { policyReferenceMarkdown, spliceReference } from './reference.js';

describe('published policy schema', () => {
  it('schemas/policy.schema.json is up to date (run `npm run schema:policy`)', () => {
    expect(readFileSync('schemas/policy.schema.json', 'utf8')).toBe(policyJsonSchema());
  });

  it('the generated part of docs/policy.md is up to date (run `npm run schema:policy`)', () => {
    const doc = readFileSync('docs/policy.md', 'utf8');
    expect(spliceReference(doc, policyReferenceMarkdown())).toBe(doc);
  });

  it('validates the example policy as a plain JSON Schema validator would', () => {
    const ajv = new Ajv({ strict: false });
    const check = ajv.compile(JSON.parse(policyJsonSchema()));
    expect(check(parse(readFileSync('examples/policies/default.yaml', 'utf8')))).toBe(true);
    expect(check({ rules: [{ name: 'x', decision: 'perhaps' }] })).toBe(false);
  });
});
