import type { Action, Json } from '../../core/action.js';
import { classifyHttp, type HttpFacts } from './http.js';
import { classifyArgv, classifyShell, type ShellFacts } from './shell.js';
import { classifySql, type SqlFacts } from './sql.js';

export type { HttpFacts, ShellFacts, SqlFacts };
export { classifyArgv, classifyHttp, classifyShell, classifySql };

type Obj = { [key: string]: Json };

function obj(v: Json | undefined): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** Where the raw text lives: the action's params, or an MCP tool call's `arguments`. */
function field(action: Action, names: string[]): Json | undefined {
  const places = [action.params, obj(action.params.arguments)];
  for (const p of places) {
    for (const n of names) if (p && p[n] !== undefined) return p[n];
  }
  return undefined;
}

/** Shell facts from `params.command` (a script) or `params.argv` (a list); undefined when the action has neither. */
export function shellOf(action: Action): ShellFacts | undefined {
  const argv = field(action, ['argv', 'args']);
  const command = field(action, ['command', 'cmd', 'script']);
  if (typeof command === 'string') {
    const base = classifyShell(command);
    if (!Array.isArray(argv)) return base;
    // `{command: "kubectl", args: ["delete", …]}`: the command word plus its argument list.
    return mergeArgv(base, command, argv);
  }
  if (Array.isArray(command)) return classifyArgv(command.map(String));
  if (Array.isArray(argv)) return classifyArgv(argv.map(String));
  return undefined;
}

function mergeArgv(base: ShellFacts, command: string, argv: Json[]): ShellFacts {
  if (!base.parsed || base.invocations.length !== 1 || /\s/.test(command.trim())) return base;
  return classifyArgv([command.trim(), ...argv.map(String)]);
}

/** SQL facts from `params.sql`, `params.query` or `params.statement`. */
export function sqlOf(action: Action): SqlFacts | undefined {
  const text = field(action, ['sql', 'query', 'statement']);
  return typeof text === 'string' ? classifySql(text) : undefined;
}

/** HTTP facts from `params.method` and `params.url`. */
export function httpOf(action: Action): HttpFacts | undefined {
  const url = field(action, ['url', 'uri']);
  if (typeof url !== 'string') return undefined;
  const method = field(action, ['method']);
  return classifyHttp(typeof method === 'string' ? method : 'GET', url);
}
