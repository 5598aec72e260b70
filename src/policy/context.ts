import {
  type HttpFacts,
  httpOf,
  type ShellFacts,
  type SqlFacts,
  shellOf,
  sqlOf,
} from './classifiers/index.js';
import type { PolicyInput } from './types.js';

/** Three-valued truth: null means "cannot tell", for input a classifier could not understand. */
export type Tri = boolean | null;

/**
 * One evaluation's view of the input. Classifiers run lazily, at most once, and only when a rule
 * that is reached asks for their fields, so a policy without shell rules never parses a command.
 */
export class EvalContext {
  private shellFacts: ShellFacts | undefined | null = null;
  private sqlFacts: SqlFacts | undefined | null = null;
  private httpFacts: HttpFacts | undefined | null = null;

  constructor(readonly input: PolicyInput) {}

  shell(): ShellFacts | undefined {
    if (this.shellFacts === null) this.shellFacts = shellOf(this.input.action);
    return this.shellFacts;
  }

  /**
   * True when shell facts are already known and show that none of `programs` runs (no dynamic
   * program either), so a rule that needs one of them cannot match. Never parses by itself.
   */
  runsNoneOf(programs: ReadonlySet<string>): boolean {
    const f = this.shellFacts;
    if (f === null) return false;
    if (f === undefined) return true;
    return f.parsed && f.invocations.every((i) => i.program !== '' && !programs.has(i.program));
  }

  sql(): SqlFacts | undefined {
    if (this.sqlFacts === null) this.sqlFacts = sqlOf(this.input.action);
    return this.sqlFacts;
  }

  http(): HttpFacts | undefined {
    if (this.httpFacts === null) this.httpFacts = httpOf(this.input.action);
    return this.httpFacts;
  }

  /** True when some classifier that ran could not understand its input. */
  unparseable(): boolean {
    return (
      (this.shellFacts != null && !this.shellFacts.parsed) ||
      (this.sqlFacts != null && !this.sqlFacts.parsed) ||
      (this.httpFacts != null && !this.httpFacts.parsed)
    );
  }

  /** Runs every classifier that has input; used when the default decision would allow. */
  classifyAll(): void {
    this.shell();
    this.sql();
    this.http();
  }

  /** The classifier output computed so far, for reviewers and the audit log. */
  facts(): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    if (this.shellFacts)
      out.shell = { ...this.shellFacts, invocations: this.shellFacts.invocations.map(printable) };
    if (this.sqlFacts) out.sql = this.sqlFacts;
    if (this.httpFacts) out.http = this.httpFacts;
    return Object.keys(out).length ? out : undefined;
  }
}

function printable(inv: ShellFacts['invocations'][number]): ShellFacts['invocations'][number] {
  return { ...inv, args: inv.args.map((a) => (a.startsWith('\u0000') ? '<dynamic>' : a)) };
}
