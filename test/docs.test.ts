import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorsMarkdown, openApiDocument } from './support/docs.js';

const docs = join(import.meta.dirname, '..', 'docs');

describe('generated docs are up to date (run `npm run docs` if this fails)', () => {
  it('docs/openapi.json matches what the gateway serves', async () => {
    expect(JSON.parse(readFileSync(join(docs, 'openapi.json'), 'utf8'))).toEqual(await openApiDocument());
  });

  it('docs/errors.md lists every error code', () => {
    expect(readFileSync(join(docs, 'errors.md'), 'utf8')).toBe(errorsMarkdown());
  });
});
