import { existsSync } from 'node:fs';
import { type Config, type LoadOptions, loadConfig } from '../config/load.js';
import { CountersignClient } from '../sdk/client.js';
import { savedToken } from './login.js';
import { UsageError } from './output.js';

export interface ConfigOption {
  config?: string;
}

export interface ClientFlags {
  url?: string;
  token?: string;
}

/**
 * `--config FILE`, else `./countersign.yaml` when present, else the embedded defaults. Only
 * `serve` resolves the MCP upstreams' secrets (see LoadOptions).
 */
export function resolveConfig(opts: ConfigOption, load: LoadOptions = { serving: false }): Config {
  const file = opts.config ?? (existsSync('countersign.yaml') ? 'countersign.yaml' : null);
  return loadConfig(file, process.env, process.cwd(), load);
}

export function clientFrom(flags: ClientFlags): CountersignClient {
  const url = flags.url ?? process.env.COUNTERSIGN_URL ?? 'http://127.0.0.1:8080';
  // Last resort: the reviewer token `countersign login` saved for this gateway.
  const token = flags.token ?? process.env.COUNTERSIGN_TOKEN ?? savedToken(url);
  if (!token)
    throw new UsageError(
      'no credential: pass --token, set COUNTERSIGN_TOKEN to an agent key or reviewer token, or run `countersign login`',
    );
  return new CountersignClient({ url, token });
}

export const clientHelp = {
  url: ['--url <url>', 'gateway URL (env COUNTERSIGN_URL, default http://127.0.0.1:8080)'],
  token: ['--token <token>', 'agent key or reviewer token (env COUNTERSIGN_TOKEN)'],
} as const;
