import { readFileSync } from 'node:fs';
import { compileSources, type PolicySourceText } from './compile.js';
import { toPolicy } from './evaluate.js';
import { PolicyError } from './source.js';

export type { PolicySourceText };
export type CompiledPolicyObject = ReturnType<typeof toPolicy>;

/** Compiles policy texts into a Policy. Throws PolicyError (file:line:column, problem, fix). */
export function compilePolicyTexts(sources: PolicySourceText[]): CompiledPolicyObject {
  return toPolicy(compileSources(sources));
}

/** Reads policy files from disk (in the order given) and compiles them as one policy. */
export function readPolicyFiles(files: string[]): PolicySourceText[] {
  return files.map((file) => {
    try {
      return { file, text: readFileSync(file, 'utf8') };
    } catch (e) {
      throw new PolicyError(
        file,
        `cannot read policy file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        'Check the path; policy files are YAML',
      );
    }
  });
}

export function loadPolicyFiles(files: string[]): CompiledPolicyObject {
  return compilePolicyTexts(readPolicyFiles(files));
}
