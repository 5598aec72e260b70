/**
 * Edit distance with adjacent transpositions (optimal string alignment): the number of
 * insertions, deletions, substitutions and swaps of two neighbouring characters that turn `a`
 * into `b`. A swap counts once, as typists make it (`prot` is one edit from `port`).
 */
export function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, (before[j - 2] as number) + 1);
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length] as number;
}

/** Case and `_`/`-` do not make a different key: `log_level` and `LogLevel` mean `logLevel`. */
const folded = (s: string) => s.toLowerCase().replace(/[_-]/g, '');

/**
 * The one candidate `word` was most likely meant to be, or undefined when none is close or two
 * are equally close (a guess between two keys helps nobody). Close means the same key up to case
 * and separators, or at most one edit for words of up to 5 characters and two for longer ones.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const candidate of new Set(candidates)) {
    if (candidate === word) continue;
    const d = folded(candidate) === folded(word) ? 0 : editDistance(word, candidate);
    if (d > Math.max(1, Math.min(2, Math.floor(Math.max(word.length, candidate.length) / 3)))) continue;
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance) tie = true;
  }
  return tie ? undefined : best;
}
