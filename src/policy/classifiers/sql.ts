import { loadModule, parseSync } from 'libpg-query';

// The PostgreSQL parser is libpg_query compiled to WebAssembly; it must be instantiated once before the
// synchronous parse can run. Top-level await keeps `evaluate` synchronous for every importer.
await loadModule();

export interface SqlStatementFacts {
  /** The statement kind in lower snake case without `Stmt`: select, insert, update, delete, drop, grant, copy_to… */
  kind: string;
  /** Broad families this statement belongs to: read, write, ddl, dcl, copy, transaction, session, other. */
  families: string[];
}

export interface SqlFacts {
  /** False when PostgreSQL's parser rejected the text: it then falls into the most sensitive class. */
  parsed: boolean;
  error?: string;
  /** Every statement kind found, including those nested in CTEs, EXPLAIN ANALYZE, PREPARE and rules. */
  kinds: string[];
  families: string[];
  /** Relations touched, lower case, both as written (`users`) and schema-qualified (`public.users`). */
  tables: string[];
  /** Top-level statements in the string. */
  statements: number;
  /** An UPDATE or DELETE with no WHERE clause, or with one that is always true (`WHERE 1=1`). */
  unboundedWrite: boolean;
  /** Functions called, lower case (`pg_read_file`, `dblink`). */
  functions: string[];
  /** Code the parser cannot see into runs: DO blocks, EXECUTE of a prepared statement, CREATE FUNCTION bodies. */
  opaque: boolean;
}

const families: Record<string, string[]> = {
  select: ['read'],
  insert: ['write'],
  update: ['write'],
  delete: ['write'],
  merge: ['write'],
  truncate: ['write', 'ddl'],
  copy_from: ['write', 'copy'],
  copy_to: ['read', 'copy', 'export'],
  grant: ['dcl'],
  grant_role: ['dcl'],
  revoke: ['dcl'],
  revoke_role: ['dcl'],
  create_role: ['dcl'],
  alter_role: ['dcl'],
  drop_role: ['dcl'],
  transaction: ['transaction'],
  variable_set: ['session'],
  variable_show: ['session'],
  explain: ['read'],
};

const opaqueKinds = new Set(['do', 'execute', 'create_function', 'call', 'create_trig', 'rule']);

/** SQL longer than this is not parsed (it would hold the event loop) and counts as unparseable. */
export const MAX_SQL_LENGTH = 64 * 1024;

/** Parses PostgreSQL text and reports what it does. Never throws: failure is reported in `parsed`. */
export function classifySql(text: string): SqlFacts {
  if (text.length > MAX_SQL_LENGTH) {
    return { ...empty(), parsed: false, error: `longer than ${MAX_SQL_LENGTH} characters; not parsed` };
  }
  let tree: unknown;
  try {
    tree = parseSync(text);
  } catch (e) {
    return { ...empty(), parsed: false, error: (e as Error).message ?? String(e) };
  }
  const acc = {
    kinds: new Set<string>(),
    tables: new Set<string>(),
    functions: new Set<string>(),
    unbounded: false,
  };
  walk(tree, acc);
  const kinds = [...acc.kinds];
  const fam = new Set(
    kinds.flatMap(
      (k) =>
        families[k] ??
        (k.startsWith('create') ||
        k.startsWith('alter') ||
        k.startsWith('drop') ||
        k === 'rename' ||
        k === 'comment'
          ? ['ddl']
          : ['other']),
    ),
  );
  const stmts = (tree as { stmts?: unknown[] }).stmts ?? [];
  return {
    parsed: true,
    kinds,
    families: [...fam],
    tables: [...acc.tables],
    statements: stmts.length,
    unboundedWrite: acc.unbounded,
    functions: [...acc.functions],
    opaque: kinds.some((k) => opaqueKinds.has(k)),
  };
}

function empty(): SqlFacts {
  return {
    parsed: true,
    kinds: [],
    families: [],
    tables: [],
    statements: 0,
    unboundedWrite: false,
    functions: [],
    opaque: false,
  };
}

interface Acc {
  kinds: Set<string>;
  tables: Set<string>;
  functions: Set<string>;
  unbounded: boolean;
}

/** Visits every node of libpg_query's JSON tree; node types are the single keys of wrapper objects. */
function walk(node: unknown, acc: Acc): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, acc);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  // Relations appear both wrapped (`{RangeVar: …}`) and bare under keys such as `relation`.
  if ('relname' in node) addTable(node as Record<string, unknown>, acc);
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (/^[A-Z]/.test(key)) visit(key, value as Record<string, unknown>, acc);
    walk(value, acc);
  }
}

function visit(type: string, n: Record<string, unknown>, acc: Acc): void {
  if (type.endsWith('Stmt')) acc.kinds.add(kindOf(type, n));
  if (type === 'DropStmt') addDropped(n, acc);
  if (type === 'FuncCall') {
    const parts = ((n.funcname as Array<{ String?: { sval: string } }>) ?? []).map(
      (p) => p.String?.sval ?? '',
    );
    const name = parts.join('.').toLowerCase();
    acc.functions.add(name);
    const last = parts[parts.length - 1];
    if (last && parts.length > 1) acc.functions.add(last.toLowerCase());
  }
  if ((type === 'UpdateStmt' || type === 'DeleteStmt') && alwaysTrue(n.whereClause)) acc.unbounded = true;
}

function kindOf(type: string, n: Record<string, unknown>): string {
  if (type === 'CopyStmt') return n.is_from ? 'copy_from' : 'copy_to';
  if (type === 'ExplainStmt') {
    // EXPLAIN ANALYZE runs the statement it explains; the nested statement is recorded by the walk.
    return 'explain';
  }
  if (type === 'GrantStmt') return n.is_grant ? 'grant' : 'revoke';
  if (type === 'GrantRoleStmt') return n.is_grant ? 'grant_role' : 'revoke_role';
  if (type === 'RuleStmt') return 'rule';
  return type
    .slice(0, -4)
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

function addTable(n: Record<string, unknown>, acc: Acc): void {
  const rel = String(n.relname ?? '').toLowerCase();
  if (!rel) return;
  const schema = n.schemaname ? String(n.schemaname).toLowerCase() : 'public';
  acc.tables.add(rel);
  acc.tables.add(`${schema}.${rel}`);
  if (n.catalogname) acc.tables.add(`${String(n.catalogname).toLowerCase()}.${schema}.${rel}`);
}

/** DROP names its objects as lists of strings rather than relations. */
function addDropped(n: Record<string, unknown>, acc: Acc): void {
  for (const obj of (n.objects as Array<{ List?: { items?: Array<{ String?: { sval: string } }> } }>) ?? []) {
    const parts = (obj.List?.items ?? []).map((i) => i.String?.sval ?? '');
    const rel = parts[parts.length - 1];
    if (!rel) continue;
    addTable({ relname: rel, schemaname: parts.length > 1 ? parts[parts.length - 2] : undefined }, acc);
  }
}

/** No WHERE, or a WHERE that holds for every row: a literal true, `1=1`, `'a'='a'`, `x OR true`. */
function alwaysTrue(where: unknown): boolean {
  if (where === undefined || where === null) return true;
  const w = where as Record<string, Record<string, unknown>>;
  if (w.A_Const)
    return w.A_Const.boolval !== undefined
      ? Boolean((w.A_Const.boolval as { boolval?: boolean }).boolval)
      : false;
  if (w.TypeCast) return alwaysTrue(w.TypeCast.arg);
  if (w.A_Expr) {
    const e = w.A_Expr;
    const op = ((e.name as Array<{ String?: { sval: string } }>) ?? [])[0]?.String?.sval;
    return e.kind === 'AEXPR_OP' && op === '=' && sameConst(e.lexpr, e.rexpr);
  }
  if (w.BoolExpr) {
    const b = w.BoolExpr;
    const args = (b.args as unknown[]) ?? [];
    if (b.boolop === 'OR_EXPR') return args.some(alwaysTrue);
    if (b.boolop === 'AND_EXPR') return args.every(alwaysTrue);
  }
  return false;
}

function sameConst(a: unknown, b: unknown): boolean {
  const ca = (a as { A_Const?: Record<string, unknown> })?.A_Const;
  const cb = (b as { A_Const?: Record<string, unknown> })?.A_Const;
  if (!ca || !cb) return false;
  const strip = (c: Record<string, unknown>) => JSON.stringify({ ...c, location: 0 });
  return strip(ca) === strip(cb);
}
