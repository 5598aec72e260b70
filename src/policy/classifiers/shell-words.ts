import { createRequire } from 'node:module';

/** The slice of mvdan-sh's GopherJS build that we use; its nodes mirror mvdan.cc/sh/v3/syntax. */
interface ShNode {
  [key: string]: unknown;
}
interface ShSyntax {
  NewParser(): { Parse(src: string, name: string): ShNode };
  Walk(node: ShNode, fn: (node: ShNode | null) => boolean): void;
  NodeType(node: ShNode): string;
}
// Loading the parser takes about half a second, so it is required on first use rather than at
// import: CLI commands that never classify a command do not pay for it.
const require = createRequire(import.meta.url);
let loaded: ShSyntax | undefined;
function sh(): ShSyntax {
  loaded ??= (require('mvdan-sh') as { syntax: ShSyntax }).syntax;
  return loaded;
}

let parser: ReturnType<ShSyntax['NewParser']> | undefined;

/** A word whose value is only known at run time (`$X`, `$(…)`, `{a,b}`, a glob in program position). */
export const DYNAMIC = '\u0000dynamic';

export interface RawCall {
  /** Each word resolved to its literal value, or DYNAMIC. */
  words: string[];
}

/** Parses a shell script and returns every simple command in it, wherever it is nested. Throws on syntax errors. */
export function parseCalls(src: string): RawCall[] {
  // One parser for the process: building one costs more than most parses, and Parse resets it.
  parser ??= sh().NewParser();
  const file = parser.Parse(src, 'command');
  const calls: RawCall[] = [];
  const syntax = sh();
  syntax.Walk(file, (node) => {
    if (node && syntax.NodeType(node) === 'CallExpr') {
      const args = (node.Args as ShNode[] | null) ?? [];
      if (args.length > 0) calls.push({ words: args.map(wordValue) });
    }
    return true;
  });
  return calls;
}

/** GopherJS throws Go error values; their text is behind Error(). */
export function shellErrorText(e: unknown): string {
  const maybe = e as { Error?: () => string; message?: string };
  if (typeof maybe?.Error === 'function') return maybe.Error();
  return maybe?.message ?? String(e);
}

function wordValue(word: ShNode): string {
  let out = '';
  for (const part of (word.Parts as ShNode[]) ?? []) {
    const v = partValue(part, false);
    if (v === DYNAMIC) return DYNAMIC;
    out += v;
  }
  return out;
}

function partValue(part: ShNode, inDouble: boolean): string {
  switch (sh().NodeType(part)) {
    case 'Lit':
      return inDouble ? unescapeDouble(String(part.Value)) : unescapeBare(String(part.Value));
    case 'SglQuoted':
      return part.Dollar ? decodeAnsiC(String(part.Value)) : String(part.Value);
    case 'DblQuoted': {
      let out = '';
      for (const p of (part.Parts as ShNode[]) ?? []) {
        const v = partValue(p, true);
        if (v === DYNAMIC) return DYNAMIC;
        out += v;
      }
      return out;
    }
    default:
      // Parameter, command and arithmetic expansions, process substitution, extended globs.
      return DYNAMIC;
  }
}

/** Unquoted text: brace expansion and globbing make the word unknowable; a backslash quotes the next character. */
function unescapeBare(raw: string): string {
  const plain = raw.replace(/\\\n/g, '');
  if (/\{[^}]*(,|\.\.)[^}]*\}/.test(plain.replace(/\\./g, ''))) return DYNAMIC;
  return plain.replace(/\\(.)/gs, '$1');
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\\n/g, '').replace(/\\([$`"\\])/g, '$1');
}

const ansi: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  v: '\v',
};

/** `$'…'` strings: bash's ANSI-C escapes, so `$'\x72m'` is `rm`. */
function decodeAnsiC(raw: string): string {
  return raw.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs,
    (_, esc: string) => {
      const head = esc[0] as string;
      if (head === 'x' || head === 'u' || head === 'U')
        return String.fromCodePoint(Number.parseInt(esc.slice(1), 16));
      if (/[0-7]/.test(head)) return String.fromCharCode(Number.parseInt(esc, 8));
      if (head === 'c') return String.fromCharCode((esc.charCodeAt(1) ?? 64) & 31);
      return ansi[head] ?? head;
    },
  );
}
