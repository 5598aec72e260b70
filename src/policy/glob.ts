import picomatch from 'picomatch';

export type Globs = string | string[];

const special = /[*?[\]{}()!+@\\]/;

export function asList(globs: Globs): string[] {
  return Array.isArray(globs) ? globs : [globs];
}

/**
 * Compiles globs into one predicate. Literal globs become a set lookup (the common case, and the
 * fast one); `!pattern` matches what the pattern does not. `*` stops at `/`, `**` crosses it.
 */
export function globFn(globs: Globs, opts: { nocase?: boolean } = {}): (s: string) => boolean {
  const list = asList(globs);
  const nocase = opts.nocase === true;
  const literals = new Set(list.filter((g) => !special.test(g)).map((g) => (nocase ? g.toLowerCase() : g)));
  const tests = list
    .filter((g) => special.test(g))
    .map((g) => {
      const negated = g.startsWith('!') && !g.startsWith('!(');
      const re = picomatch.makeRe(negated ? g.slice(1) : g, { dot: true, nocase });
      return negated ? (s: string) => !re.test(s) : (s: string) => re.test(s);
    });
  if (tests.length === 0) return nocase ? (s) => literals.has(s.toLowerCase()) : (s) => literals.has(s);
  return (s) => literals.has(nocase ? s.toLowerCase() : s) || tests.some((t) => t(s));
}

/** Throws picomatch's error for a glob it cannot compile, so the loader can point at it. */
export function checkGlobs(globs: Globs): string | null {
  for (const g of asList(globs)) {
    try {
      picomatch.makeRe(g.startsWith('!') ? g.slice(1) : g, { dot: true });
    } catch (e) {
      return `${g}: ${(e as Error).message}`;
    }
  }
  return null;
}

/** The fixed head of a glob: `aws.iam.*` → `aws.iam.`; a literal → itself; null when it starts with a wildcard. */
export function literalPrefix(glob: string): { prefix: string; exact: boolean } | null {
  const i = glob.search(special);
  if (i < 0) return { prefix: glob, exact: true };
  if (glob.startsWith('!')) return null;
  // Only a trailing `*` / `**` keeps the index exact about everything after the prefix.
  return i > 0 ? { prefix: glob.slice(0, i), exact: false } : null;
}
