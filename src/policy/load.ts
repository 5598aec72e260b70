import {
  type CompiledPolicyObject,
  compilePolicyTexts,
  loadPolicyFiles,
  type PolicySourceText,
} from './engine.js';

export type { PolicySourceText };

/**
 * The entry points the spine uses. They return the full engine (classifiers, thresholds, index,
 * explain), which reads every v1 policy file unchanged. Both throw PolicyError (a SourceError)
 * with file:line:column.
 */
export function compilePolicy(sources: PolicySourceText[]): CompiledPolicyObject {
  return compilePolicyTexts(sources);
}

/** Reads and compiles policy files from disk, in the order given, as one policy. */
export function loadPolicy(files: string[]): CompiledPolicyObject {
  return loadPolicyFiles(files);
}
