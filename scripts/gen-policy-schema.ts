// Regenerates schemas/policy.schema.json and the generated part of docs/policy.md from the TypeBox schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { policyJsonSchema } from '../src/policy/json-schema.js';
import { policyReferenceMarkdown, spliceReference } from '../src/policy/reference.js';

writeFileSync('schemas/policy.schema.json', policyJsonSchema());
const docs = readFileSync('docs/policy.md', 'utf8');
writeFileSync('docs/policy.md', spliceReference(docs, policyReferenceMarkdown()));
console.log('wrote schemas/policy.schema.json and docs/policy.md');
