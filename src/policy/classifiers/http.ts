import { posix } from 'node:path';

export interface HttpFacts {
  /** False when the URL cannot be parsed: it then falls into the most sensitive class. */
  parsed: boolean;
  error?: string;
  method: string;
  scheme: string;
  /** Lower case, without a trailing dot. */
  host: string;
  port: number | null;
  /** Percent-decoded and normalised (`/a/./b/../c//d` → `/a/c/d`), so a spelling cannot dodge a path rule. */
  path: string;
  query: Record<string, string[]>;
}

const defaultPorts: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** Classifies an HTTP request given its method and absolute URL. Never throws. */
export function classifyHttp(method: string, url: string): HttpFacts {
  const m = method.trim().toUpperCase();
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return {
      parsed: false,
      error: 'not an absolute URL',
      method: m,
      scheme: '',
      host: '',
      port: null,
      path: '',
      query: {},
    };
  }
  let path: string;
  try {
    path = normalisePath(u.pathname);
  } catch {
    return {
      parsed: false,
      error: 'malformed percent-encoding in the path',
      method: m,
      scheme: '',
      host: '',
      port: null,
      path: '',
      query: {},
    };
  }
  const query: Record<string, string[]> = {};
  for (const [k, v] of u.searchParams) {
    const list = query[k] ?? [];
    list.push(v);
    query[k] = list;
  }
  const port = u.port ? Number(u.port) : (defaultPorts[u.protocol] ?? null);
  return {
    parsed: true,
    method: m,
    scheme: u.protocol.slice(0, -1),
    host: u.hostname.toLowerCase().replace(/\.$/, ''),
    port,
    path,
    query,
  };
}

function normalisePath(raw: string): string {
  // Decode until stable so double encoding (`%252e`) cannot hide a `..`.
  let p = raw;
  for (let i = 0; i < 3; i++) {
    const next = decodeURIComponent(p);
    if (next === p) break;
    p = next;
  }
  const n = posix.normalize(`/${p.replace(/\\/g, '/')}`);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Turns a path template (`/repos/{owner}/{repo}/pulls`) into a glob (`/repos/*\/*\/pulls`). */
export function templateToGlob(template: string): string {
  return template.replace(/\{[^}/]+\}/g, '*');
}
