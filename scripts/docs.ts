// npm run docs — regenerates docs/openapi.json and docs/errors.md from the schemas and the error
// registry the code uses. test/docs.test.ts fails when they are out of date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorsMarkdown, openApiDocument } from '../test/support/docs.js';

const root = join(import.meta.dirname, '..');
writeFileSync(join(root, 'docs', 'openapi.json'), `${JSON.stringify(await openApiDocument(), null, 2)}\n`);
writeFileSync(join(root, 'docs', 'errors.md'), errorsMarkdown());
console.log('wrote docs/openapi.json and docs/errors.md');
