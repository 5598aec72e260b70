import type { CompiledRule } from './compile.js';
import { literalPrefix } from './glob.js';

const CACHE_LIMIT = 4096;

function byPrecedence(a: CompiledRule, b: CompiledRule): number {
  return b.rank - a.rank || a.order - b.order;
}

/**
 * Finds the rules that can match an action type without testing every rule. Rules whose
 * `match.type` is literal or has a literal head (`aws.iam.*`) are filed under it; the rest are
 * candidates for every type. The merged, precedence-sorted list is cached per action type, so
 * evaluation cost follows the rules that concern a type, not the size of the policy.
 */
export class RuleIndex {
  private readonly exact = new Map<string, CompiledRule[]>();
  private readonly prefixed: Array<{ prefix: string; rule: CompiledRule }> = [];
  private readonly anyType: CompiledRule[] = [];
  private readonly cache = new Map<string, CompiledRule[]>();

  constructor(rules: readonly CompiledRule[]) {
    for (const rule of rules) this.add(rule);
  }

  private add(rule: CompiledRule): void {
    const heads = rule.typeGlobs?.map(literalPrefix) ?? [null];
    if (heads.some((h) => h === null)) {
      this.anyType.push(rule);
      return;
    }
    for (const h of heads) {
      if (!h) continue;
      if (h.exact) {
        const list = this.exact.get(h.prefix) ?? [];
        list.push(rule);
        this.exact.set(h.prefix, list);
      } else this.prefixed.push({ prefix: h.prefix, rule });
    }
  }

  /** Every rule that may match `type`, deny first, then require_approval, then allow; file order within each. */
  candidates(type: string): CompiledRule[] {
    const hit = this.cache.get(type);
    if (hit) return hit;
    const set = new Set<CompiledRule>([...(this.exact.get(type) ?? []), ...this.anyType]);
    for (const p of this.prefixed) if (type.startsWith(p.prefix)) set.add(p.rule);
    const list = [...set].sort(byPrecedence);
    // An attacker choosing action types must not grow memory without bound.
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(type, list);
    return list;
  }
}
