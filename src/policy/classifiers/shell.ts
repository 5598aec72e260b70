import { DYNAMIC, parseCalls, shellErrorText } from './shell-words.js';

/** One program the command would run, after seeing through wrappers such as sudo, env and `bash -c`. */
export interface ShellInvocation {
  /** Basename of the program (`/usr/bin/kubectl` → `kubectl`); empty when it is only known at run time. */
  program: string;
  /** The arguments after the program, resolved through quoting; `dynamic` when any is only known at run time. */
  args: string[];
  /** Wrappers this invocation was found inside, outermost first (`sudo`, `bash -c`). */
  via: string[];
  /** True when the program or an argument comes from an expansion (`$X`, `$(…)`, `{a,b}`). */
  dynamic: boolean;
}

export interface ShellFacts {
  /** False when the parser could not understand the command: it then falls into the most sensitive class. */
  parsed: boolean;
  error?: string;
  invocations: ShellInvocation[];
  programs: string[];
}

const MAX_DEPTH = 8;
const shells = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh', 'fish']);

const CACHE_LIMIT = 2048;
const cache = new Map<string, ShellFacts>();

/**
 * Parses a command line and lists every program it runs. Never throws: failure is reported in
 * `parsed`. The parser (mvdan/sh compiled to JavaScript) costs about a millisecond per command, and
 * agents repeat commands, so results are kept in a small LRU cache; they are frozen, so a caller
 * cannot change what the next evaluation sees.
 */
export function classifyShell(command: string): ShellFacts {
  const hit = cache.get(command);
  if (hit) {
    cache.delete(command);
    cache.set(command, hit);
    return hit;
  }
  const facts = deepFreeze(parseShell(command));
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(command, facts);
  return facts;
}

/** Classifies without the cache; for benchmarks that measure the parser itself. */
export function classifyShellUncached(command: string): ShellFacts {
  return parseShell(command);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Commands longer than this are not parsed: the parser costs microseconds per byte on the event
 * loop, and an agent must not be able to stall the gateway with a huge command. Such a command is
 * unparseable, which is the most sensitive class.
 */
export const MAX_SHELL_LENGTH = 16 * 1024;

function parseShell(command: string): ShellFacts {
  if (command.length > MAX_SHELL_LENGTH) {
    return {
      parsed: false,
      error: `longer than ${MAX_SHELL_LENGTH} characters; not parsed`,
      invocations: [],
      programs: [],
    };
  }
  try {
    const invocations: ShellInvocation[] = [];
    expand(command, [], 0, invocations);
    return { parsed: true, invocations, programs: [...new Set(invocations.map((i) => i.program))] };
  } catch (e) {
    return { parsed: false, error: shellErrorText(e), invocations: [], programs: [] };
  }
}

/** An argv given as a list (no shell involved) is classified the same way, without the parse. */
export function classifyArgv(argv: string[]): ShellFacts {
  try {
    const invocations: ShellInvocation[] = [];
    unwrap(argv, [], 0, invocations);
    return { parsed: true, invocations, programs: [...new Set(invocations.map((i) => i.program))] };
  } catch (e) {
    return { parsed: false, error: shellErrorText(e), invocations: [], programs: [] };
  }
}

function expand(src: string, via: string[], depth: number, out: ShellInvocation[]): void {
  if (depth > MAX_DEPTH) throw new Error(`commands nested more than ${MAX_DEPTH} levels deep`);
  // Also for scripts inside an argv list (`["bash", "-c", "…"]`), which skip parseShell's check.
  if (src.length > MAX_SHELL_LENGTH)
    throw new Error(`longer than ${MAX_SHELL_LENGTH} characters; not parsed`);
  const aliases = new Map<string, string>();
  for (const call of parseCalls(src)) {
    const words = call.words;
    if (words[0] === 'alias') recordAliases(words.slice(1), aliases);
    const alias = words[0] !== undefined ? aliases.get(words[0]) : undefined;
    if (alias !== undefined) {
      const rest = words.slice(1).map((w) => (w === DYNAMIC ? '"$DYNAMIC"' : quote(w)));
      expand([alias, ...rest].join(' '), [...via, `alias ${words[0]}`], depth + 1, out);
      continue;
    }
    unwrap(words, via, depth, out);
  }
}

function recordAliases(defs: string[], aliases: Map<string, string>): void {
  for (const d of defs) {
    const eq = d.indexOf('=');
    if (eq > 0) aliases.set(d.slice(0, eq), d.slice(eq + 1));
  }
}

function quote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/** Records the invocation, then looks inside it when the program runs another command. */
function unwrap(words: string[], via: string[], depth: number, out: ShellInvocation[]): void {
  if (depth > MAX_DEPTH) throw new Error(`commands nested more than ${MAX_DEPTH} levels deep`);
  const head = words[0];
  if (head === undefined) return;
  const programWord = head === DYNAMIC || /[*?[]/.test(head) ? DYNAMIC : head;
  const program = programWord === DYNAMIC ? '' : basename(programWord);
  const args = words.slice(1);
  out.push({ program, args, via, dynamic: programWord === DYNAMIC || args.includes(DYNAMIC) });
  if (program === '') return;
  const inner = innerCommand(program, args);
  if (inner === null) return;
  const label = shells.has(program) ? `${program} -c` : program;
  if (inner.kind === 'argv') unwrap(inner.words, [...via, label], depth + 1, out);
  else if (inner.words.includes(DYNAMIC)) {
    out.push({ program: '', args: [], via: [...via, label], dynamic: true });
  } else expand(inner.words.join(' '), [...via, label], depth + 1, out);
}

interface Inner {
  /** `argv`: the words are a program and its arguments; `script`: the words are shell source. */
  kind: 'argv' | 'script';
  words: string[];
}

/** Options of wrappers that take a separate value, so the value is not mistaken for the program. */
const valued: Record<string, string> = {
  sudo: 'ugCDhprtUT',
  doas: 'uC',
  env: 'uCS',
  nice: 'n',
  timeout: 'sk',
  ionice: 'cnp',
  stdbuf: 'ioe',
  xargs: 'IiLlnPsdEa',
  exec: 'a',
  chroot: '',
  ssh: 'pilo FJLRDbcEemOQSWw'.replace(' ', ''),
  watch: 'nd',
  su: 'sgG',
  flock: 'wE',
};

const passThrough = new Set([
  'busybox',
  'sudo',
  'doas',
  'nice',
  'nohup',
  'time',
  'command',
  'builtin',
  'exec',
  'xargs',
  'stdbuf',
  'ionice',
  'setsid',
  'chronic',
  'unbuffer',
  'caffeinate',
  'torsocks',
  'proxychains',
  'proxychains4',
]);

function innerCommand(program: string, args: string[]): Inner | null {
  if (shells.has(program)) return shellScript(args) ?? { kind: 'script', words: [DYNAMIC] };
  if (program === 'xargs')
    return withStdinArgs(afterOptions(program, args, 0) ?? { kind: 'argv', words: ['echo'] });
  if (program === 'find') return findExec(args);
  if (program === 'eval') return { kind: 'script', words: args };
  // `source file` and `. file` run a script we cannot see.
  if (program === 'source' || program === '.') return { kind: 'script', words: [DYNAMIC] };
  if (program === 'env') return envCommand(args);
  if (program === 'timeout') return afterOptions(program, args, 1);
  if (program === 'chroot') return afterOptions(program, args, 1);
  if (program === 'flock') return flockCommand(args);
  if (program === 'ssh') return remoteCommand(args);
  if (program === 'watch') return scriptOrNull(afterOptions(program, args, 0));
  if (program === 'su') return suCommand(args);
  if (passThrough.has(program)) return afterOptions(program, args, 0);
  return null;
}

/** Skips a wrapper's options (and `skip` further operands such as timeout's duration); the rest is the command. */
function afterOptions(program: string, args: string[], skip: number): Inner | null {
  const takes = valued[program] ?? '';
  let i = 0;
  while (i < args.length) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (!a.startsWith('--') && a.length === 2 && takes.includes(a[1] as string)) i++;
    else if (program === 'nice' && /^-\d+$/.test(a)) {
      // `nice -10 cmd`: the number is the adjustment.
    }
    i++;
  }
  i += skip;
  const words = args.slice(i);
  return words.length > 0 ? { kind: 'argv', words } : null;
}

function scriptOrNull(inner: Inner | null): Inner | null {
  return inner ? { kind: 'script', words: inner.words } : null;
}

/** xargs appends words read from stdin: the arguments are only known at run time. */
function withStdinArgs(inner: Inner): Inner {
  return { kind: 'argv', words: [...inner.words, DYNAMIC] };
}

/** `find … -exec cmd {} ;` and `-execdir`, `-ok`, `-okdir` run a command per file found. */
function findExec(args: string[]): Inner | null {
  const i = args.findIndex((a) => a === '-exec' || a === '-execdir' || a === '-ok' || a === '-okdir');
  if (i < 0) return null;
  const end = args.findIndex((a, j) => j > i && (a === ';' || a === '+'));
  const words = args.slice(i + 1, end < 0 ? undefined : end).map((w) => (w === '{}' ? DYNAMIC : w));
  return words.length > 0 ? { kind: 'argv', words } : null;
}

/** `bash -c 'script'`, also as `-lc`, `-ec`, `-o pipefail -c`. */
function shellScript(args: string[]): Inner | null {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-o' || a === '+o') {
      i++;
      continue;
    }
    if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(a)) {
      const script = args[i + 1];
      return script === undefined ? null : { kind: 'script', words: [script] };
    }
    if (!a.startsWith('-') && !a.startsWith('+')) return null;
  }
  return null;
}

/** `env [-i] [-u NAME] [NAME=VALUE]… cmd`, and `env -S 'cmd args'`, which splits a string into a command. */
function envCommand(args: string[]): Inner | null {
  let i = 0;
  while (i < args.length) {
    const a = args[i] as string;
    if (a === '-S' || a === '--split-string') return { kind: 'script', words: args.slice(i + 1) };
    if (a.startsWith('--split-string='))
      return { kind: 'script', words: [a.slice(15), ...args.slice(i + 1)] };
    if (a.startsWith('-S') && a.length > 2)
      return { kind: 'script', words: [a.slice(2), ...args.slice(i + 1)] };
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-u' || a === '-C' || a === '--unset' || a === '--chdir') i += 2;
    else if (a.startsWith('-') || /^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) i++;
    else break;
  }
  const words = args.slice(i);
  return words.length > 0 ? { kind: 'argv', words } : null;
}

/** `flock FILE cmd…` or `flock FILE -c 'script'`. */
function flockCommand(args: string[]): Inner | null {
  const c = args.findIndex((a) => a === '-c' || a === '--command');
  if (c >= 0 && args[c + 1] !== undefined) return { kind: 'script', words: [args[c + 1] as string] };
  return afterOptions('flock', args, 1);
}

/** `ssh [options] host command…`: the remote shell runs the rest as a script. */
function remoteCommand(args: string[]): Inner | null {
  const rest = afterOptions('ssh', args, 1);
  return rest ? { kind: 'script', words: rest.words } : null;
}

/** `su [user] -c 'script'`. */
function suCommand(args: string[]): Inner | null {
  const c = args.findIndex((a) => a === '-c' || a === '--command');
  if (c >= 0 && args[c + 1] !== undefined) return { kind: 'script', words: [args[c + 1] as string] };
  return null;
}
