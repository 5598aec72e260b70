import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYamlScalar } from 'yaml';
import { parseDuration } from '../util/duration.js';
import { validateSource } from '../util/validate.js';
import { parseYaml, SourceError, type YamlSource } from '../util/yaml-source.js';
import { type IdentityConfig, resolveIdentity } from './identity.js';
import { type McpConfig, resolveMcpConfig } from './mcp.js';
import { ConfigFile, type ReviewerEntryT, type SlackSectionT, type WebhooksSectionT } from './schema.js';

/** The configuration after validation, defaults and path resolution: what the server runs on. */
export interface Config {
  /** The file it came from, or null for the embedded defaults. */
  file: string | null;
  server: {
    host: string;
    port: number;
    bodyLimit: number;
    maxWaitMs: number;
    publicUrl: string | null;
    logLevel: string;
  };
  dataDir: string;
  store: { driver: 'sqlite'; path: string; durability: 'fsync' | 'os' };
  /** Null means the embedded example policy is copied into the data dir on first start. */
  policyFiles: string[] | null;
  /** Reload the policy when its files change (SIGHUP always reloads). */
  policyWatch: boolean;
  audit: {
    signingKeyFile: string;
    origin: string | null;
    checkpointIntervalMs: number;
    publishDir: string | null;
    witnesses: string[];
  };
  expirySweepMs: number;
  reviewers: Array<Required<ReviewerEntryT>>;
  identity: IdentityConfig;
  dev: boolean;
  /** MCP upstreams the gateway fronts; null (or absent, for hand-built configs) without an `mcp:` key. */
  mcp?: McpConfig | null;
  /** As validated; resolved (durations, env: secrets) by src/channels/slack/config.ts. */
  slack: SlackSectionT | null;
  /** As validated; resolved by src/channels/webhook/config.ts. */
  webhooks: WebhooksSectionT | null;
}

export const envPrefix = 'COUNTERSIGN__';

/**
 * `COUNTERSIGN__SERVER__PORT=9000` sets `server.port`. Values are read as YAML scalars, so numbers
 * and booleans keep their type; a list can be given as `[a, b]`.
 */
function applyEnv(source: YamlSource, env: NodeJS.ProcessEnv): Map<string, string> {
  const applied = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(envPrefix) || raw === undefined) continue;
    const path = name
      .slice(envPrefix.length)
      .split('__')
      .map((seg) => seg.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
    source.doc.setIn(path, parseYamlScalar(raw));
    applied.set(path.join('.'), name);
  }
  source.value = source.doc.toJS();
  return applied;
}

function rel(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

function mcpSection(
  raw: Parameters<typeof resolveMcpConfig>[0],
  env: NodeJS.ProcessEnv | null,
  base: string,
  label: string,
) {
  try {
    return resolveMcpConfig(
      raw,
      env,
      (p) => rel(base, p),
      (d) => parseDuration(d) as number,
    );
  } catch (e) {
    throw new SourceError(label, (e as Error).message, 'See docs/mcp.md');
  }
}

export interface LoadOptions {
  /**
   * False for operator commands, which never start an MCP upstream: its `${VAR}` secrets are then
   * not needed (and left unexpanded) and its working directories are not checked. Default true.
   */
  serving?: boolean;
}

/** Loads a configuration file (or the embedded defaults when `file` is null) with env overrides. */
export function loadConfig(
  file: string | null,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  options: LoadOptions = {},
): Config {
  let text = '{}';
  if (file) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new SourceError(
        file,
        `cannot read the configuration file (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
        'Check the path given to --config',
      );
    }
  }
  const label = file ?? '(embedded defaults)';
  const source = parseYaml(text, label);
  const fromEnv = applyEnv(source, env);
  const where = source.where;
  source.where = (path) => {
    const key = path.filter((p) => typeof p === 'string').join('.');
    for (const [envPath, name] of fromEnv) if (key.startsWith(envPath)) return `environment variable ${name}`;
    return where(path);
  };
  const c = validateSource(ConfigFile, source, 'See docs/configuration.md for every key');
  const base = file ? dirname(resolve(cwd, file)) : cwd;
  const dataDir = rel(base, c.dataDir ?? '.countersign');
  const server = c.server ?? {};
  const publicUrl = server.publicUrl ?? `http://${server.host ?? '127.0.0.1'}:${server.port ?? 8080}`;
  let identity: IdentityConfig;
  try {
    identity = resolveIdentity(c.identity, publicUrl);
  } catch (e) {
    throw new SourceError(label, (e as Error).message, 'See docs/identity.md');
  }
  return {
    file,
    server: {
      host: server.host ?? '127.0.0.1',
      port: server.port ?? 8080,
      bodyLimit: server.bodyLimit ?? 262_144,
      maxWaitMs: parseDuration(server.maxWait ?? '60s') as number,
      publicUrl: server.publicUrl ?? null,
      logLevel: server.logLevel ?? 'info',
    },
    dataDir,
    store: {
      driver: 'sqlite',
      path: rel(base, c.store?.path ?? resolve(dataDir, 'countersign.db')),
      durability: c.store?.durability ?? 'fsync',
    },
    policyFiles: c.policy ? c.policy.files.map((f) => rel(base, f)) : null,
    policyWatch: c.policy?.watch ?? true,
    audit: {
      signingKeyFile: rel(base, c.audit?.signingKeyFile ?? resolve(dataDir, 'audit-signing.key')),
      origin: c.audit?.origin ?? null,
      checkpointIntervalMs: parseDuration(c.audit?.checkpointInterval ?? '1s') ?? 1000,
      publishDir: c.audit?.publishDir ? rel(base, c.audit.publishDir) : null,
      witnesses: c.audit?.witnesses ?? [],
    },
    expirySweepMs: parseDuration(c.expiry?.sweepInterval ?? '1s') as number,
    reviewers: (c.reviewers ?? []).map((r) => ({ ...r, name: r.name ?? r.email })),
    identity,
    dev: c.dev ?? file === null,
    mcp: c.mcp ? mcpSection(c.mcp, options.serving === false ? null : env, base, label) : null,
    slack: c.slack ?? null,
    webhooks: c.webhooks ?? null,
  };
}
