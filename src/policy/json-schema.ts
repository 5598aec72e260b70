import { PolicyFile } from './language.js';

/** The JSON Schema editors use for policy files, as checked in at schemas/policy.schema.json. */
export function policyJsonSchema(): string {
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    ...JSON.parse(JSON.stringify(PolicyFile)),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
