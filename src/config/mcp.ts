import { statSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';

const Duration = Type.String({
  pattern: '^(\\d+(ms|s|m|h|d))+$',
  description: 'A duration such as 500ms, 1s, 15m.',
});

const Secrets = Type.Record(Type.String({ minLength: 1 }), Type.String(), {
  description:
    // biome-ignore lint/suspicious/noTemplateCurlyInString: documents the literal ${VAR} syntax
    'Values may be `${NAME}` to read the gateway environment variable NAME; they stay in the gateway and are never logged.',
});

const StdioUpstream = Type.Object(
  {
    command: Type.String({ minLength: 1, description: 'Executable the gateway spawns.' }),
    args: Type.Optional(Type.Array(Type.String())),
    env: Type.Optional(Secrets),
    cwd: Type.Optional(Type.String({ description: 'Working directory; relative to the config file.' })),
  },
  { additionalProperties: false },
);

const HttpUpstream = Type.Object(
  {
    url: Type.String({ format: 'uri', description: 'Streamable HTTP endpoint of the upstream server.' }),
    headers: Type.Optional(Secrets),
  },
  { additionalProperties: false },
);

/** The `mcp:` key of countersign.yaml: upstream MCP servers the gateway fronts. */
export const McpConfigFile = Type.Object(
  {
    upstreams: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
      Type.Union([StdioUpstream, HttpUpstream]),
      {
        description: 'Upstream servers by name; each is served at /mcp/NAME.',
      },
    ),
    hold: Type.Optional(
      Type.String({
        ...Duration,
        default: '50s',
        description: 'Longest a pending call is held open before the model is told to await the decision.',
      }),
    ),
    denyRepeatWindow: Type.Optional(
      Type.String({
        ...Duration,
        default: '10m',
        description: 'An identical call repeated this soon after a rejection is refused without a review.',
      }),
    ),
    hideDeniedTools: Type.Optional(
      Type.Boolean({ default: false, description: 'Leave tools the policy denies out of tools/list.' }),
    ),
    recordBeforeForward: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'Forward a call the policy allows only once its record is on disk, instead of while it is being flushed. Either way the agent hears nothing before it is on disk (decision 0014).',
      }),
    ),
    maxMessageBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 16_777_216, default: 1_048_576 })),
    upstreamTimeout: Type.Optional(
      Type.String({ ...Duration, default: '120s', description: 'Longest wait for an upstream answer.' }),
    ),
  },
  { additionalProperties: false },
);

export type McpConfigFileT = Static<typeof McpConfigFile>;

export interface StdioUpstreamConfig {
  kind: 'stdio';
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string | null;
}

export interface HttpUpstreamConfig {
  kind: 'http';
  url: string;
  headers: Record<string, string>;
}

export type UpstreamConfig = StdioUpstreamConfig | HttpUpstreamConfig;

/** The `mcp:` section after defaults, `${VAR}` expansion and path resolution. */
export interface McpConfig {
  upstreams: Record<string, UpstreamConfig>;
  holdMs: number;
  denyRepeatWindowMs: number;
  hideDeniedTools: boolean;
  recordBeforeForward: boolean;
  maxMessageBytes: number;
  upstreamTimeoutMs: number;
}

/**
 * `${NAME}` reads the gateway's environment, so secrets need not be written into the file.
 * A missing variable is a configuration error that names the variable, never a value. Without
 * `env` (operator commands, which never start an upstream) references stay as written, so
 * issuing a token does not need the upstreams' secrets in the operator's shell.
 */
function expand(values: Record<string, string> | undefined, env: NodeJS.ProcessEnv | null, where: string) {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values ?? {})) {
    out[key] = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (reference, name: string) => {
      if (env === null) return reference;
      const found = env[name];
      if (found === undefined)
        throw new Error(
          `${where}.${key} refers to \${${name}}, but the environment variable ${name} is not set`,
        );
      return found;
    });
  }
  return out;
}

/** A missing working directory would surface as "spawn npx ENOENT", which reads as npx missing. */
function directory(path: string, where: string): string {
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {}
  if (!isDirectory)
    throw new Error(
      `${where}: the working directory ${path} does not exist or is not a directory; create it or fix cwd`,
    );
  return path;
}

const upstreamName = /^[A-Za-z0-9_-]{1,64}$/;

/** An HTTP header name (RFC 9110 token). */
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Headers the gateway's HTTP client sets per request itself (framing and the connection); one in
 * the configuration could not be sent, so it is refused when the configuration is read.
 */
const managedHeaders = new Set([
  'connection',
  'content-length',
  'expect',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Refuses a header that could not be sent; values are secrets, so no message quotes one. */
function checkHeaders(headers: Record<string, string>, where: string): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    if (!headerName.test(name))
      throw new Error(`${where}.${name}: not a valid HTTP header name; use letters, digits and - only`);
    if (managedHeaders.has(name.toLowerCase()))
      throw new Error(
        `${where}.${name}: the gateway's HTTP client sets this header itself for every request; remove it`,
      );
    if (/[\r\n\0]/.test(value))
      throw new Error(`${where}.${name}: the value contains a line break or NUL, which HTTP cannot carry`);
  }
  return headers;
}

/**
 * `env` is null for operator commands: they never start an upstream, so `${VAR}` references are
 * left unexpanded and working directories unchecked.
 */
export function resolveMcpConfig(
  raw: McpConfigFileT,
  env: NodeJS.ProcessEnv | null,
  rel: (p: string) => string,
  ms: (d: string) => number,
): McpConfig {
  const upstreams: Record<string, UpstreamConfig> = {};
  for (const [name, u] of Object.entries(raw.upstreams)) {
    const where = `mcp.upstreams.${name}`;
    // The name is a URL path segment and part of every action's resource (`NAME/TOOL`).
    if (!upstreamName.test(name))
      throw new Error(
        `${where}: an upstream name may contain only letters, digits, _ and - (1 to 64 characters)`,
      );
    upstreams[name] =
      'command' in u
        ? {
            kind: 'stdio',
            command: u.command,
            args: u.args ?? [],
            env: expand(u.env, env, `${where}.env`),
            cwd: u.cwd ? (env === null ? rel(u.cwd) : directory(rel(u.cwd), `${where}.cwd`)) : null,
          }
        : {
            kind: 'http',
            url: u.url,
            headers: checkHeaders(expand(u.headers, env, `${where}.headers`), `${where}.headers`),
          };
  }
  return {
    upstreams,
    holdMs: ms(raw.hold ?? '50s'),
    denyRepeatWindowMs: ms(raw.denyRepeatWindow ?? '10m'),
    hideDeniedTools: raw.hideDeniedTools ?? false,
    recordBeforeForward: raw.recordBeforeForward ?? false,
    maxMessageBytes: raw.maxMessageBytes ?? 1_048_576,
    upstreamTimeoutMs: ms(raw.upstreamTimeout ?? '120s'),
  };
}
